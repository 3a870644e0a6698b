"""Which Python runs a project's tests: the resolution order, and one line when it cannot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from verifix.project_python import choose, project_interpreter
from verifix.sandbox.interpreter import InterpreterError, probe


def fake_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    return python


def test_the_setting_wins_and_is_read_from_the_project_root(tmp_path):
    fake_venv(tmp_path / ".venv")
    mine = fake_venv(tmp_path / "envs" / "mine")
    chosen = choose("envs/mine/bin/python", tmp_path, environ={"PATH": ""})
    assert (chosen.path, chosen.why) == (str(mine), "the python setting")


def test_a_setting_naming_nothing_is_an_error_not_a_fallback(tmp_path):
    fake_venv(tmp_path / ".venv")
    with pytest.raises(InterpreterError, match=r"^the python setting names .*/nope, which does "
                                              r"not exist$"):
        choose("nope", tmp_path, environ={})


def test_an_active_virtualenv_comes_before_the_projects(tmp_path):
    active = fake_venv(tmp_path / "active")
    fake_venv(tmp_path / "proj" / ".venv")
    chosen = choose("", tmp_path / "proj", environ={"VIRTUAL_ENV": str(tmp_path / "active")})
    assert (chosen.path, chosen.why) == (str(active), "$VIRTUAL_ENV")


def test_verifixs_own_virtualenv_is_not_the_projects(tmp_path):
    own = fake_venv(tmp_path / ".venv")
    chosen = choose("", tmp_path, environ={"VIRTUAL_ENV": sys.prefix})
    assert (chosen.path, chosen.why) == (str(own), ".venv/ in the project")


def test_venv_then_python3_on_path(tmp_path):
    plain = fake_venv(tmp_path / "venv")
    assert choose("", tmp_path, environ={}).path == str(plain)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    chosen = choose("", tmp_path / "elsewhere", environ={"PATH": str(bindir)})
    assert (chosen.path, chosen.why) == (str(bindir / "python3"), "python3 on PATH")


def test_no_python_anywhere_is_one_line(tmp_path):
    with pytest.raises(InterpreterError, match="no Python found"):
        choose("", tmp_path, environ={"PATH": str(tmp_path)})


def test_probe_reports_prefixes_and_pytest():
    found = probe(sys.executable)
    assert found.pytest is not None
    assert os.path.realpath(sys.prefix) in {os.path.realpath(p) for p in found.prefixes}
    assert set(found.mounts()) >= {sys.prefix}


def test_what_is_not_a_python_is_one_line(tmp_path):
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    with pytest.raises(InterpreterError, match=r"cannot run project tests: it is not a working"):
        probe(str(script))
    with pytest.raises(InterpreterError, match=r"is not an executable Python interpreter"):
        probe(str(tmp_path))


def test_a_python_without_pytest_names_itself_and_the_fix(tmp_path):
    import subprocess

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v")],
                   check=True)
    python = str(tmp_path / "v" / "bin" / "python")
    with pytest.raises(InterpreterError) as caught:
        project_interpreter(python, tmp_path, environ={})
    assert str(caught.value) == (f"pytest is not installed for {python}: run "
                                 f"`{python} -m pip install pytest`")
