"""The command line as a user meets it: exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys


def verifix(*args: str, env: dict[str, str] | None = None, cwd=None):
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "verifix", *args], capture_output=True,
                          text=True, timeout=300, env=full_env, cwd=cwd)


def test_model_list_json_names_both_models():
    out = verifix("model", "list", "--json")
    assert out.returncode == 0
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["qwen2.5-coder-0.5b"]["default"] is True
    assert rows["qwen2.5-coder-1.5b"]["extra"] == "model-1.5b"


def test_model_path_of_a_missing_model_is_one_line_with_the_remedy(tmp_path):
    # An empty cache dir: the model is either not installed or installed but not assembled.
    out = verifix("model", "path", "1.5b", env={"VERIFIX_CACHE_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert ("pip install 'verifix[model-1.5b]'" in out.stderr
            or out.stderr.endswith("is installed but not assembled: verifix model fetch\n"))


def test_bad_settings_give_one_line_each_and_exit_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.verifix]\ncolour = 'red'\n")
    out = verifix("doctor", "--no-generate", "--set", "threads=many", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == "verifix: threads: expected an integer, got 'many'"
    out = verifix("doctor", "--no-generate", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown setting 'colour'" in out.stderr and out.stderr.count("\n") == 1


def test_non_gguf_model_is_refused_before_llama_cpp(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_text("hello")
    out = verifix("model", "fetch", "--model", str(bogus))
    assert out.returncode == 2 and "not a GGUF model file" in out.stderr


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


def test_doctor_fails_with_a_remedy_when_the_model_is_missing(tmp_path):
    out = verifix("doctor", "--json", "--model", str(tmp_path / "none.gguf"))
    assert out.returncode == 1
    report = json.loads(out.stdout)
    model = next(c for c in report["checks"] if c["name"] == "model")
    assert not model["ok"] and "not found" in model["detail"] and model["remedy"]
