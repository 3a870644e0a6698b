"""verifix.code: a project's tests that call a function, and where their imports lead."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifix import code as py

FILES = {
    "src/pkg/__init__.py": "from .core import add\n",
    "src/pkg/core.py": (
        "def add(a, b):\n    return a + b\n\n\n"
        "def sub(a, b):\n    return a - b\n\n\n"
        "class Calc:\n    def mul(self, a, b):\n        return a * b\n"
    ),
    "src/pkg/sub/__init__.py": "",
    "src/pkg/sub/other.py": "def add(a, b):\n    return 'other'\n",
    "tests/test_core.py": (
        "import os\n"
        "import pkg.core as core\n"
        "import pkg.core\n"
        "from pkg import add\n"
        "from pkg.core import Calc, sub as minus\n"
        "\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_add_module():\n    assert core.add(1, 2) == 3\n\n\n"
        "def test_add_dotted():\n    assert pkg.core.add(2, 2) == 4\n\n\n"
        "def test_sub():\n    assert minus(3, 1) == 2\n    assert os.sep\n\n\n"
        "class TestCalc:\n"
        "    def test_mul(self):\n        c = Calc()\n        assert c.mul(2, 3) == 6\n\n"
        "    def test_mul_inline(self):\n        assert Calc().mul(2, 2) == 4\n\n"
        "    def helper(self):\n        add(1, 1)\n\n\n"
        "class Helper:\n    def test_not_collected(self):\n        add(1, 2)\n"
    ),
    "tests/unit/other_test.py": (
        "from pkg.sub.other import add\n\n\n"
        "def test_other_add():\n    assert add(1, 2) == 'other'\n"
    ),
    "tests/unit/test_local.py": (
        "def add(a, b):\n    return 0\n\n\ndef test_local_add():\n    assert add(1, 2) == 0\n"
    ),
    "app/__init__.py": "",
    "app/util.py": "def slug(s):\n    return s.lower()\n",
    "app/tests/__init__.py": "",
    "app/tests/test_util.py": (
        "from ..util import slug\n\n\ndef test_slug():\n    assert slug('A') == 'a'\n"
    ),
    "app/tests/test_star.py": (
        "from app.util import *\n\n\ndef test_slug_star():\n    assert slug('B') == 'b'\n"
    ),
    # never searched: virtualenvs, node_modules, build output, hidden directories
    ".venv/lib/test_venv.py": "def test_venv():\n    add(1, 2)\n",
    "venv/test_venv2.py": "def test_venv():\n    add(1, 2)\n",
    "node_modules/x/test_node.py": "def test_node():\n    add(1, 2)\n",
    "build/lib/test_build.py": "def test_build():\n    add(1, 2)\n",
    ".git/test_git.py": "def test_git():\n    add(1, 2)\n",
    # not a test file name
    "tests/helpers.py": "def test_helper():\n    add(1, 2)\n",
}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    for rel, text in FILES.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def ids(refs: list[py.TestRef]) -> list[str]:
    return [r.node_id for r in refs]


def test_find_tests_by_name(project):
    assert ids(py.find_tests(project, "add")) == [
        "tests/test_core.py::test_add",
        "tests/test_core.py::test_add_module",
        "tests/test_core.py::test_add_dotted",
        "tests/unit/other_test.py::test_other_add",
        "tests/unit/test_local.py::test_local_add",
    ]
    refs = py.find_tests(project, "mul")
    assert ids(refs) == ["tests/test_core.py::TestCalc::test_mul",
                         "tests/test_core.py::TestCalc::test_mul_inline"]
    assert refs[0].qualname == "TestCalc.test_mul"
    assert refs[0].path == project / "tests" / "test_core.py"
    assert py.find_tests(project, "nothing_calls_this") == []


def test_find_tests_for_a_given_module(project):
    core = project / "src" / "pkg" / "core.py"
    assert ids(py.find_tests(project, "add", core)) == [
        "tests/test_core.py::test_add",  # through the package's re-export
        "tests/test_core.py::test_add_module",
        "tests/test_core.py::test_add_dotted",
    ]
    assert ids(py.find_tests(project, "add", project / "src/pkg/sub/other.py")) == [
        "tests/unit/other_test.py::test_other_add"]
    assert ids(py.find_tests(project, "sub", core)) == []  # imported as `minus`, not called so
    assert ids(py.find_tests(project, "minus", core)) == ["tests/test_core.py::test_sub"]
    assert ids(py.find_tests(project, "mul", core)) == [
        "tests/test_core.py::TestCalc::test_mul", "tests/test_core.py::TestCalc::test_mul_inline"]
    util = project / "app" / "util.py"
    assert ids(py.find_tests(project, "slug", util)) == [
        "app/tests/test_star.py::test_slug_star", "app/tests/test_util.py::test_slug"]


def test_node_id(project, monkeypatch):
    test_file = project / "tests" / "test_core.py"
    assert py.node_id(project, test_file, "TestCalc.test_mul") == \
        "tests/test_core.py::TestCalc::test_mul"
    monkeypatch.chdir(project / "tests")  # a relative path against an absolute root
    assert py.node_id(project, Path("test_core.py"), "test_add") == "tests/test_core.py::test_add"
    assert py.node_id(project, project / "tests" / ".." / "app" / "tests" / "test_util.py",
                      "test_slug") == "app/tests/test_util.py::test_slug"
    # like pytest, a symlinked test file keeps its own path
    (project / "tests" / "test_link.py").symlink_to(test_file)
    assert py.node_id(project, project / "tests" / "test_link.py", "test_add") == \
        "tests/test_link.py::test_add"
    assert "tests/test_link.py::test_add" in ids(py.find_tests(project, "add"))
    with pytest.raises(ValueError):
        py.node_id(project / "app", test_file, "test_add")


def test_resolve_import(project):
    test_file = project / "tests" / "test_core.py"
    core = project / "src" / "pkg" / "core.py"
    assert py.resolve_import(project, test_file, "add") == (core, "add")
    assert py.resolve_import(project, test_file, "core.add") == (core, "add")
    assert py.resolve_import(project, test_file, "pkg.core.add") == (core, "add")
    assert py.resolve_import(project, test_file, "minus") == (core, "sub")
    assert py.resolve_import(project, test_file, "Calc") == (core, "Calc")
    assert py.resolve_import(project, test_file, "Calc.mul") == (core, "Calc.mul")
    assert py.resolve_import(project, test_file, "os") is None  # not in the project
    assert py.resolve_import(project, test_file, "os.path.join") is None
    assert py.resolve_import(project, test_file, "undefined_name") is None
    rel_test = project / "app" / "tests" / "test_util.py"
    assert py.resolve_import(project, rel_test, "slug") == (project / "app" / "util.py", "slug")
    star_test = project / "app" / "tests" / "test_star.py"
    assert py.resolve_import(project, star_test, "slug") == (project / "app" / "util.py", "slug")


def test_called_functions(project):
    test_file = project / "tests" / "test_core.py"
    source = test_file.read_text()
    calls = {f.qualname: py.called_functions(f, source) for f in py.list_functions(source)
             if f.is_test}
    assert calls == {
        "test_add": ["add"],
        "test_add_module": ["core.add"],
        "test_add_dotted": ["pkg.core.add"],
        "test_sub": ["minus"],  # os.sep is the standard library
        "TestCalc.test_mul": ["Calc.mul"],
        "TestCalc.test_mul_inline": ["Calc.mul"],
    }
    # from the test's text, and restricted to what resolves inside the project
    text = "def test_x():\n    assert add(1, 1) == 2 and undefined(3)\n"
    assert py.called_functions(text, source) == ["add"]
    assert py.called_functions(text, source, project_root=project, test_file=test_file) == ["add"]
    other = "from pkg.missing import gone\n\n\ndef test_y():\n    gone()\n"
    assert py.called_functions("def test_y():\n    gone()\n", other) == ["gone"]
    assert py.called_functions("def test_y():\n    gone()\n", other, project_root=project,
                               test_file=test_file) == []
