"""`verifix generate` / `verifix repair` on bad input: one line on stderr, exit 2, files untouched.

These are all caught before the model loads, so they run fast (the sandbox is real).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import verifix

MODULE = '''"""A module."""

LIMIT = 3


def double(x):
    """Twice x.

    >>> double(2)
    4
    """
    ...
'''

TESTS = '''from pkg.mod import double


def test_double():
    assert double(2) == 4
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text(MODULE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mod.py").write_text(TESTS.replace("...", ""))
    return tmp_path


@pytest.mark.parametrize("args, reason", [
    (("generate", "pkg/missing.py::double"), "no such file"),
    (("generate", "pkg/mod.py::triple"), "no function named 'triple'"),
    (("generate", "pkg/mod.py::LIMIT"), "is not a function"),
    (("generate", "pkg/mod.py"), "expected FILE::NAME"),
    (("repair", "tests/test_mod.py::test_nothing"), "no test named 'test_nothing'"),
])
def test_bad_target_is_one_line_and_exit_2(project: Path, args: tuple[str, ...],
                                           reason: str) -> None:
    before = (project / "pkg" / "mod.py").read_text()
    out = verifix(*args, "--json", cwd=project)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and reason in out.stderr, out.stderr
    assert json.loads(out.stdout)["status"] == "error"
    assert (project / "pkg" / "mod.py").read_text() == before


def test_repair_of_a_test_that_already_passes(project: Path) -> None:
    (project / "pkg" / "mod.py").write_text(MODULE.replace("    ...\n", "    return 2 * x\n"))
    out = verifix("repair", "tests/test_mod.py::test_double", "--json", cwd=project)
    assert out.returncode == 2
    assert "already passes; nothing to repair" in out.stderr and out.stderr.count("\n") == 1


def test_repair_when_the_test_file_does_not_import(project: Path) -> None:
    test_file = project / "tests" / "test_mod.py"
    test_file.write_text(TESTS.replace("from pkg.mod import double", "from pkg.nope import double"))
    before = test_file.read_text()
    out = verifix("repair", "tests/test_mod.py::test_double", "--json", cwd=project)
    assert out.returncode == 2
    assert "does not run" in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert test_file.read_text() == before
