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


def test_progress_shows_an_interim_answer_with_its_code(capsys):
    from verifix.cli import _printer
    from verifix.pipeline.events import Event, Interim

    show = _printer(quiet=False)
    show(Event("probe", "greedy probe", percent=5))
    show(Event("probe", "plausible answer so far: passes 1/1 trusted checks", percent=5,
               interim=Interim("plausible", "def f(x):\n    return x * 2\n", "passes")))
    err = capsys.readouterr().err.splitlines()
    assert err == ["[  5%] probe      greedy probe",
                   "[  5%] probe      plausible answer so far: passes 1/1 trusted checks",
                   "    def f(x):", "        return x * 2"]
    _printer(quiet=True)(Event("probe", "x", interim=Interim("plausible", "def f(): ...", "")))
    assert capsys.readouterr().err == ""
