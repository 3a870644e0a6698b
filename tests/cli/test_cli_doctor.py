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


def test_doctor_in_a_project_names_the_python_its_tests_use(tmp_path):
    import subprocess
    import sys

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")],
                   check=True)
    python = tmp_path / ".venv" / "bin" / "python"
    out = verifix("doctor", "--model", str(tmp_path / "none.gguf"), cwd=tmp_path,
                  env={"VERIFIX_PYTHON": "", "VIRTUAL_ENV": ""})
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["tests"])
    assert lines[at].startswith("FAIL tests")
    assert f"{python} (from .venv/ in the project)" in lines[at]
    assert "pytest does not import there" in lines[at]
    assert lines[at + 1].split() == ["fix:", str(python), "-m", "pip", "install", "pytest"]
    report = json.loads(verifix("doctor", "--json", "--python", sys.executable, "--model",
                                str(tmp_path / "none.gguf"), cwd=tmp_path).stdout)
    tests = next(c for c in report["checks"] if c["name"] == "tests")
    assert tests["ok"] and tests["python"] == sys.executable and tests["pytest"]
