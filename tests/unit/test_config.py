"""Settings: one typed model, every source, one clear line per bad key."""

from __future__ import annotations

import pytest

from verifix import config
from verifix.config import Settings, SettingsError


def test_defaults_are_valid_and_round_trip():
    s = Settings()
    assert config.from_dict(config.to_dict(s)) == s
    assert s.model == "qwen2.5-coder-0.5b" and s.sandbox.allowWeak is False


def test_precedence_pyproject_editor_env_cli(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.verifix]\nmodel = "from-pyproject.gguf"\nthreads = 3\n'
        "[tool.verifix.pipeline]\ncandidates = 6\nrepairRounds = 1\n"
    )
    sub = tmp_path / "pkg" / "deep"
    sub.mkdir(parents=True)
    s = config.load(sub, environ={})
    assert (s.model, s.threads, s.pipeline.candidates) == ("from-pyproject.gguf", 3, 6)
    s = config.load(sub, editor={"pipeline": {"candidates": 8}}, environ={})
    assert s.pipeline.candidates == 8 and s.pipeline.repairRounds == 1
    s = config.load(sub, editor={"threads": 5}, environ={"VERIFIX_THREADS": "7"})
    assert s.threads == 7
    s = config.load(
        sub, environ={"VERIFIX_THREADS": "7"}, cli=config.nest({"threads": 9, "sandbox.timeout": 2})
    )
    assert s.threads == 9 and s.sandbox.timeout == 2.0


def test_env_names_and_typed_parsing():
    assert config.env_key("sandbox.allowWeak") == "VERIFIX_SANDBOX_ALLOW_WEAK"
    assert config.env_key("model") == "VERIFIX_MODEL"
    env = {
        "VERIFIX_MODEL": "x.gguf",
        "VERIFIX_SANDBOX_ALLOW_WEAK": "yes",
        "VERIFIX_GPU_LAYERS": "0",
    }
    s = config.load(None, environ=env)
    assert (s.model, s.sandbox.allowWeak, s.gpuLayers) == ("x.gguf", True, 0)


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ({"nosuch": 1}, ["settings: unknown setting 'nosuch'"]),
        ({"pipeline": {"bogus": 1}}, ["settings: unknown setting 'pipeline.bogus'"]),
        (
            {"pipeline": {"candidates": "many"}},
            ["settings: pipeline.candidates: expected an integer, got 'many'"],
        ),
        (
            {"pipeline": {"candidates": 0}},
            ["settings: pipeline.candidates: must be between 1 and 64, got 0"],
        ),
        ({"onSave": "false"}, ["settings: onSave: expected true or false, got 'false'"]),
        ({"threads": True}, ["settings: threads: expected an integer, got True"]),
        ({"backend": "gpt"}, ["settings: backend: expected one of 'llama', 'openai', got 'gpt'"]),
    ],
)
def test_bad_values_give_one_line_each(layer, expected):
    with pytest.raises(SettingsError) as err:
        Settings().merged(layer)
    assert err.value.lines == expected


def test_several_problems_are_all_reported(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.verifix]\ncolour = 1\nthreads = 'x'\n")
    with pytest.raises(SettingsError) as err:
        config.load(tmp_path, environ={"VERIFIX_GPU_LAYERS": "lots"})
    lines = err.value.lines
    assert len(lines) == 3, lines
    assert any("unknown setting 'colour'" in line for line in lines)
    assert any("threads: expected an integer" in line for line in lines)
    assert any(line.startswith("VERIFIX_GPU_LAYERS: gpuLayers") for line in lines)


def test_broken_pyproject_is_one_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.verifix\n")
    with pytest.raises(SettingsError) as err:
        config.load(tmp_path, environ={})
    assert len(err.value.lines) == 1 and "cannot read" in err.value.lines[0]


def test_float_setting_accepts_integers():
    assert Settings().merged({"sandbox": {"timeout": 2}}).sandbox.timeout == 2.0
