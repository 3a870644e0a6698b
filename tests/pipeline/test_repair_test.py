"""Repair failing test, with scripted model replies, a real project and the real sandbox: the
test is the oracle, the tests that passed before guard, and the result says which held."""

from __future__ import annotations

import sys
import textwrap
import threading
import time

import pytest

from verifix.cancel import CancelToken
from verifix.config import PipelineSettings
from verifix.engine import EngineError, ScriptedEngine
from verifix.pipeline.repair_test import RepairTest
from verifix.pipeline.targets import repair_task
from verifix.pipeline.task import TaskError

MEAN = textwrap.dedent('''
    def average(values):
        """Return the arithmetic mean of values; 0.0 for an empty list."""
        if not values:
            return 0.0
        return sum(values) / (len(values) + 1)
''')
TESTS = textwrap.dedent('''
    from stats import average


    def test_empty():
        assert average([]) == 0.0


    def test_three_values():
        assert average([1, 2, 3]) == 2.0
''')
FIXED = "```python\ndef average(values):\n    if not values:\n        return 0.0\n" \
        "    return sum(values) / len(values)\n```"
# Makes the failing test pass but breaks the one that passed before.
REGRESSES = "```python\ndef average(values):\n    return sum(values) / len(values)\n```"
STILL_WRONG = "```python\ndef average(values):\n    return 0.0\n```"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'stats'\nversion = '0'\n")
    (tmp_path / "stats.py").write_text(MEAN)
    (tmp_path / "test_stats.py").write_text(TESTS)
    return tmp_path


def responder(fixes, rewrites=()):
    fix_q, rewrite_q = list(fixes), list(rewrites)

    def reply(prompt: str) -> str:
        if "from scratch" in prompt:
            return rewrite_q.pop(0) if rewrite_q else STILL_WRONG
        return fix_q.pop(0) if fix_q else STILL_WRONG

    return reply


def repair(project, sandbox, engine, cancel=None, events=lambda _e: None, **settings):
    task, _src = repair_task(f"{project}/test_stats.py::test_three_values", sandbox,
                              python=sys.executable)
    return RepairTest(task, engine, sandbox, PipelineSettings(**settings), 0, events,
                      cancel).run()


def test_a_fix_that_passes_the_test_and_its_guards_is_verified(project, sandbox):
    engine = ScriptedEngine(responder([FIXED]))
    seen = []
    result = repair(project, sandbox, engine, events=seen.append)
    assert result.status == "verified", result.message
    assert "test_stats.py::test_three_values now passes" in result.message
    assert "the test that passed before still passes" in result.message
    assert "len(values)\n" in result.code and result.evidence.trusted_passed == 2
    assert result.phase == "repair" and result.evidence.repairs == 1
    assert (project / "stats.py").read_text() == MEAN  # a run never writes the user's files
    assert (project / "test_stats.py").read_text() == TESTS
    assert seen[-1].phase == "done" and seen[-1].percent == 100


def test_a_fix_that_breaks_a_passing_test_is_not_verified(project, sandbox):
    engine = ScriptedEngine(responder([REGRESSES] * 8, rewrites=[REGRESSES] * 8))
    result = repair(project, sandbox, engine, repairRounds=1)
    assert result.status == "unverified"
    assert "best: 1/2" in result.message
    # The first round writes candidates // 2 repairs and as many rewrites; the second round
    # repairs the closest distinct fix so far.
    assert result.evidence.candidates == 2 * (PipelineSettings().candidates // 2) + 1


def test_the_first_passing_fix_ends_the_run(project, sandbox):
    engine = ScriptedEngine(responder([STILL_WRONG], rewrites=[FIXED, FIXED]))
    result = repair(project, sandbox, engine)
    assert result.status == "verified" and result.evidence.candidates == 2


def test_no_usable_code_is_an_error(project, sandbox):
    engine = ScriptedEngine(lambda _prompt: "I cannot help with that.")
    result = repair(project, sandbox, engine, repairRounds=0)
    assert result.status == "error" and "no usable code" in result.message


def test_an_engine_error_keeps_what_it_has(project, sandbox):
    calls = {"n": 0}

    def flaky(prompt: str) -> str:
        calls["n"] += 1
        if calls["n"] > 1:
            raise EngineError("server went away")
        return REGRESSES

    result = repair(project, sandbox, ScriptedEngine(flaky))
    assert result.status == "unverified" and "engine error: server went away" in result.message


def test_cancel_stops_the_repair(project, sandbox):
    cancel = CancelToken()
    engine = ScriptedEngine(responder([STILL_WRONG + " pad" * 400] * 20), delay_s=0.01)
    timer = threading.Timer(0.3, cancel.cancel)
    timer.start()
    result = repair(project, sandbox, engine, cancel=cancel)
    timer.cancel()
    assert result.status == "error" and result.message == "cancelled"


def test_the_time_budget_ends_the_repair_with_the_best_so_far(project, sandbox):
    # The first fix arrives at once; the next reply would take 8 s and is cut at the budget.
    engine = ScriptedEngine(responder([REGRESSES] + [REGRESSES + " pad" * 1600] * 20),
                            delay_s=0.005)
    started = time.monotonic()
    result = repair(project, sandbox, engine, timeBudget=1.0)
    assert time.monotonic() - started < 5
    assert result.status == "unverified" and "time budget of 1 s exhausted" in result.message
    assert result.code.strip() == REGRESSES.split("\n", 1)[1].rsplit("\n", 1)[0].strip()


def test_a_test_that_already_passes_is_refused(project, sandbox):
    with pytest.raises(TaskError, match="already passes; nothing to repair"):
        repair_task(f"{project}/test_stats.py::test_empty", sandbox, python=sys.executable)


def test_a_near_miss_is_repaired_before_fixes_that_raise_where_the_test_wants_a_value(
        project, sandbox):
    # The near miss computes a wrong value (and breaks the guard); the rewrites pass the guard
    # as the bug did but raise on the failing test: the near miss is the one to repair.
    near = "```python\ndef average(values):\n    return (sum(values) + 1) / len(values)\n```"
    raising = ["```python\ndef average(values):\n    if not values:\n        return 0.0\n"
               "    raise ValueError('cannot average')\n```",
               "```python\ndef average(values):\n    if values:\n"
               "        raise ValueError('cannot average')\n    return 0.0\n```"]

    def reply(prompt: str) -> str:
        if "from scratch" in prompt:
            return raising.pop(0) if raising else STILL_WRONG
        return FIXED if "(sum(values) + 1)" in prompt else near

    result = repair(project, sandbox, ScriptedEngine(reply))
    assert result.status == "verified", result.message
    assert result.evidence.candidates == 5  # 2 fixes, 2 rewrites, then the near miss's repair


def test_fixes_come_in_waves_and_the_first_passing_one_in_a_wave_wins(project, sandbox):
    # Round one in waves of two: (greedy fix, greedy rewrite), (sampled fix, sampled rewrite).
    # The second wave's fix passes; the rewrite decoded beside it is never checked.
    engine = ScriptedEngine(responder([STILL_WRONG, FIXED], rewrites=[STILL_WRONG, FIXED]),
                            parallel=2)
    result = repair(project, sandbox, engine, wave=2)
    assert result.status == "verified" and "len(values)\n" in result.code
    assert engine.waves == [2, 2]
    assert result.evidence.candidates == 3 and result.evidence.repairs == 3
