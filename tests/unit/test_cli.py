"""The command line as a user meets it: exit codes and one-line errors, before any model or
sandbox is opened."""

from __future__ import annotations

import json

from tests.cli.helpers import verifix


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
