"""`verifix generate` and `verifix repair` with the real embedded model, real sandbox, real pytest.

A `verified` label is a promise: these tests check it against tests the pipeline never saw.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.cli.helpers import verifix
from verifix.config import Settings
from verifix.pipeline.jobs import run_job
from verifix.pipeline.task import compose

# The repairs run the CLI, which loads the model in its own process: no fixture says so.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

STUBS = textwrap.dedent('''
    """Small helpers with examples in their docstrings (the only trusted checks)."""


    def count_vowels(text):
        """Count the vowels (a, e, i, o, u, either case) in text.

        >>> count_vowels("hello")
        2
        >>> count_vowels("SKY")
        0
        """
        ...


    def clamp(value, low, high):
        """Limit value to the range [low, high].

        >>> clamp(5, 0, 10)
        5
        >>> clamp(-3, 0, 10)
        0
        >>> clamp(42, 0, 10)
        10
        """
        raise NotImplementedError
''')

# Never shown to the pipeline: run only on what it labels verified.
HIDDEN = {
    "count_vowels": ['assert count_vowels("") == 0', 'assert count_vowels("AEIOUaeiou") == 10',
                     'assert count_vowels("rhythm") == 0', 'assert count_vowels("Banana") == 3'],
    "clamp": ["assert clamp(0, 0, 10) == 0", "assert clamp(10, 0, 10) == 10",
              "assert clamp(7, 7, 7) == 7", "assert clamp(-5, -10, -1) == -5",
              "assert clamp(3.5, 0, 2) == 2"],
}


def make_project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    (tmp_path / "helpers.py").write_text(STUBS)
    return tmp_path


def settings() -> Settings:
    return Settings().merged({"pipeline": {"timeBudget": 240}})


def test_generate_verified_results_pass_unseen_tests(tmp_path, real_engine, sandbox):
    root = make_project(tmp_path)
    module = root / "helpers.py"
    statuses = {}
    for name, hidden in HIDDEN.items():
        result, task, _ = run_job("generate", f"{module}::{name}", settings(), real_engine,
                                  sandbox, root=root)
        statuses[name] = result.status
        assert result.status in ("verified", "plausible", "unverified"), result.message
        assert result.evidence.trusted_total == len(task.trusted_checks) > 0
        if result.status != "verified":
            continue
        assert result.evidence.trusted_passed == result.evidence.trusted_total
        assert result.evidence.agreeing >= 2
        program = compose(task.source, task.fn, result.code)
        report = sandbox.run_checks(program, hidden)
        failed = [(c, r.message) for c, r in zip(hidden, report.results, strict=True)
                  if r.status != "passed"]
        assert not failed, f"{name} was labelled verified but fails unseen tests: {failed}"
    assert module.read_text() == STUBS, "generate without --apply must not touch the file"
    assert "verified" in statuses.values(), f"nothing verified, the promise went untested: " \
                                            f"{statuses}"


MEAN = textwrap.dedent('''
    """Summary statistics."""


    def average(values):
        """Return the arithmetic mean of values; 0.0 for an empty list."""
        if not values:
            return 0.0
        return sum(values) / (len(values) + 1)
''')

MEAN_TESTS = textwrap.dedent('''
    from stats.mean import average


    def test_empty():
        assert average([]) == 0.0


    def test_three_values():
        assert average([1, 2, 3]) == 2.0
''')

# Tests the repair never sees; added to the project only after the fix is written.
MEAN_HIDDEN = textwrap.dedent('''
    from stats.mean import average


    def test_one_value():
        assert average([5]) == 5.0


    def test_fractional_mean():
        assert average([1, 2]) == 1.5
''')


def test_repair_makes_the_failing_test_pass_and_the_fix_holds_on_unseen_tests(tmp_path,
                                                                                sandbox):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'stats'\nversion = '0'\n")
    (tmp_path / "stats").mkdir()
    (tmp_path / "stats" / "__init__.py").write_text("")
    (tmp_path / "stats" / "mean.py").write_text(MEAN)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mean.py").write_text(MEAN_TESTS)
    tests = ["tests/test_mean.py::test_empty", "tests/test_mean.py::test_three_values"]
    baseline = sandbox.run_project_tests(tmp_path, {}, tests)
    assert [t.status for t in baseline.results] == ["passed", "failed"], baseline

    out = verifix("repair", "tests/test_mean.py::test_three_values", "--json", "--apply",
                  cwd=tmp_path, timeout=900)
    data = json.loads(out.stdout)
    assert (tmp_path / "tests" / "test_mean.py").read_text() == MEAN_TESTS, \
        "repair must never edit the test"
    if data["status"] != "verified":
        assert (tmp_path / "stats" / "mean.py").read_text() == MEAN, \
            "only a verified fix may be written"
        pytest.fail(f"the embedded model did not repair the seeded bug: {data['message']}")
    assert out.returncode == 0, out.stderr
    assert data["applied"].startswith("applied to"), data
    fixed = (tmp_path / "stats" / "mean.py").read_text()
    head = MEAN[: MEAN.index("def average")]
    assert fixed != MEAN and fixed.startswith(head), "only the function's text may change"
    (tmp_path / "tests" / "test_hidden.py").write_text(MEAN_HIDDEN)
    hidden = ["tests/test_hidden.py::test_one_value", "tests/test_hidden.py::test_fractional_mean"]
    after = sandbox.run_project_tests(tmp_path, {}, tests + hidden)
    assert [t.status for t in after.results] == ["passed"] * 4, after


def test_repair_that_fails_leaves_the_users_files_alone(tmp_path):
    """The example's rounding bug is beyond the 0.5B model today; whatever the outcome, only
    a verified fix may reach the file and the test is never edited."""
    root = tmp_path / "inventory"
    shutil.copytree(REPO / "examples" / "inventory", root,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    pricing = root / "inventory" / "pricing.py"
    test_file = root / "tests" / "test_pricing.py"
    before_code, before_test = pricing.read_text(), test_file.read_text()
    out = verifix("repair", "tests/test_pricing.py::test_rounding", "--json", "--apply",
                  "--set", "pipeline.repairRounds=0", cwd=root, timeout=900)
    data = json.loads(out.stdout)
    assert out.returncode == {"verified": 0, "plausible": 0, "unverified": 1}.get(
        data["status"], 2), out.stderr
    assert test_file.read_text() == before_test
    if data["status"] != "verified":
        assert pricing.read_text() == before_code
        assert "not applied" in data.get("applied", "not applied")
