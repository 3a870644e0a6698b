"""`verifix doctor` on the real embedded model."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import verifix


@pytest.mark.slow  # the CLI loads the model in its own process: no fixture says so
def test_doctor_json_on_the_real_model():
    out = verifix("doctor", "--json")
    report = json.loads(out.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["model"]["ok"] and "sha256 verified" in checks["model"]["detail"]
    # The model generated something; how fast is the benchmarks' business (a shared machine
    # under another model's load measured 0.3 tokens/s here).
    assert checks["generation"]["ok"] and "tokens/s" in checks["generation"]["detail"]
    assert checks["llama.cpp"]["gpu_offload"] in (True, False)
    assert checks["sandbox"]["isolation"] in ("strong", "weak", "none")
    assert out.returncode == (0 if report["ok"] else 1)
