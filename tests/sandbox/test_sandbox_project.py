"""run_project_tests: a throwaway copy with replacements, per-test outcomes, the user's files
untouched."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest
from sandbox_helpers import needs_pytest_inside

from verifix.cancel import CancelToken
from verifix.sandbox import Sandbox

pytestmark = needs_pytest_inside

MOD = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TESTS = '''
import pytest
from pkg.mod import add


def test_zero():
    assert add(0, 0) == 0


def test_sum():
    print("summing")
    assert add(2, 3) == 5


@pytest.mark.parametrize("x", [1, 2])
def test_identity(x):
    assert add(x, 0) == x


def test_skipped():
    pytest.skip("not today")


def test_writes_home(tmp_path):
    (tmp_path / "f").write_text("scratch only")
    open("written-by-test.txt", "w").write("into the copy")
'''


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MOD)
    (root / "tests" / "test_mod.py").write_text(TESTS)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


IDS = ["tests/test_mod.py::test_zero", "tests/test_mod.py::test_sum",
       "tests/test_mod.py::test_identity", "tests/test_mod.py::test_skipped",
       "tests/test_mod.py::test_writes_home"]


def test_replacement_fixes_the_failing_test(sandbox: Sandbox, project: Path) -> None:
    before = _tree_digest(project)

    report = sandbox.run_project_tests(project, {}, IDS)
    by_id = {r.node_id: r for r in report.results}
    assert [r.node_id for r in report.results] == IDS
    assert by_id["tests/test_mod.py::test_zero"].status == "passed"
    failed = by_id["tests/test_mod.py::test_sum"]
    assert failed.status == "failed"
    assert "assert -1 == 5" in failed.message
    assert "summing" in failed.output
    assert by_id["tests/test_mod.py::test_identity"].status == "passed"  # both parameters
    assert by_id["tests/test_mod.py::test_skipped"].status == "skipped"
    assert "not today" in by_id["tests/test_mod.py::test_skipped"].message
    assert by_id["tests/test_mod.py::test_writes_home"].status == "passed"

    fixed = sandbox.run_project_tests(project, {"pkg/mod.py": FIXED}, IDS[:3])
    assert [r.status for r in fixed.results] == ["passed", "passed", "passed"]
    assert fixed.isolation == "strong"

    assert _tree_digest(project) == before  # the user's files were never written
    assert (project / "pkg" / "mod.py").read_text() == MOD
    assert not (project / "written-by-test.txt").exists()


def test_missing_ids_collection_errors_and_hangs(sandbox: Sandbox, project: Path) -> None:
    (project / "tests" / "test_broken.py").write_text("import does_not_exist\n\ndef test_x():\n"
                                                      "    pass\n")
    (project / "tests" / "test_hang.py").write_text(
        "import time\n\ndef test_hang():\n    time.sleep(60)\n\ndef test_after():\n    pass\n")
    ids = ["tests/test_mod.py::test_zero", "tests/test_mod.py::test_nope",
           "tests/test_gone.py::test_x", "tests/test_broken.py::test_x",
           "tests/test_hang.py::test_hang", "tests/test_hang.py::test_after"]
    started = time.monotonic()
    report = sandbox.run_project_tests(project, {}, ids)
    elapsed = time.monotonic() - started
    statuses = {r.node_id: (r.status, r.message) for r in report.results}
    assert statuses["tests/test_mod.py::test_zero"][0] == "passed"
    assert statuses["tests/test_mod.py::test_nope"][0] == "error"
    assert "not found" in statuses["tests/test_mod.py::test_nope"][1]
    assert statuses["tests/test_gone.py::test_x"] == ("error", "not found: tests/test_gone.py")
    assert statuses["tests/test_broken.py::test_x"][0] == "error"
    assert "does_not_exist" in statuses["tests/test_broken.py::test_x"][1]
    assert statuses["tests/test_hang.py::test_hang"][0] == "timeout"
    assert statuses["tests/test_hang.py::test_after"][0] == "passed"  # in a fresh child
    assert elapsed < 3 + 15


def test_bad_replacement_path_is_an_error_not_a_write(sandbox: Sandbox, project: Path,
                                                      tmp_path: Path) -> None:
    report = sandbox.run_project_tests(project, {"../escape.py": "x = 1\n"}, IDS[:1])
    assert report.error is not None and [r.status for r in report.results] == ["error"]
    assert not (tmp_path / "escape.py").exists()


def test_cancel_project_run(sandbox: Sandbox, project: Path) -> None:
    (project / "tests" / "test_slow.py").write_text(
        "import time\n\ndef test_slow():\n    time.sleep(2.5)\n")
    token = CancelToken()
    timer = threading.Timer(0.8, token.cancel)
    timer.start()
    started = time.monotonic()
    report = sandbox.run_project_tests(project, {}, ["tests/test_slow.py::test_slow"], token)
    timer.join()
    assert [r.status for r in report.results] == ["cancelled"]
    assert time.monotonic() - started < 2.3
