"""`verifix doctor` without a model: it still probes the sandbox boundary."""

from __future__ import annotations

import json

from tests.cli.helpers import verifix


def test_doctor_fails_with_a_remedy_when_the_model_is_missing(tmp_path):
    out = verifix("doctor", "--json", "--model", str(tmp_path / "none.gguf"))
    assert out.returncode == 1
    report = json.loads(out.stdout)
    model = next(c for c in report["checks"] if c["name"] == "model")
    assert not model["ok"] and "not found" in model["detail"] and model["remedy"]
