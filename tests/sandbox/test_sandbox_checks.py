"""run_checks: statuses, messages, values, output, timeouts, crashes, cancellation, threads."""

from __future__ import annotations

import os
import threading
import time

from sandbox_helpers import host_processes_with, marker, needs_strong, wait_gone

from verifix.cancel import CancelToken
from verifix.sandbox import Sandbox

CODE = '''
def f(x):
    """Doubles x, noisily."""
    print("f called with", x)
    return x * 2
'''


def test_statuses_messages_and_values(sandbox: Sandbox) -> None:
    checks = [
        "assert f(1) == 2",  # passes
        "assert f(2) == 5",  # fails: expected 5, got 4
        "f(3)",  # a bare expression passes unless it raises
        "f(None)",  # raises
        "assert f(4) < 3, 'too big'",
        "assert not f(0)",
        "x = f(5)\nassert x == 10",
        "for i in range(3):\n    assert f(i) == i",  # a nested assert still counts as failed
    ]
    report = sandbox.run_checks(CODE, checks)
    assert report.compile_error is None and report.load_error is None
    statuses = [r.status for r in report.results]
    assert statuses == ["passed", "failed", "passed", "error", "failed", "passed", "passed",
                        "failed"]
    r = report.results
    assert r[0].value == "2" and r[0].message == ""
    assert r[1].message == "expected 5, got 4" and r[1].value == "4"
    assert r[2].value == "6"
    assert r[3].message.startswith("TypeError") and "line 5 of the candidate" in r[3].message
    assert r[3].value is None
    assert r[4].message == "too big (expected f(4) < 3, got 8)"
    assert r[5].value == "0"
    assert r[6].value == "10"
    assert r[1].output == "f called with 2\n"  # each check's own output only
    assert report.isolation == "strong"
    assert report.seconds > 0


def test_value_is_evaluated_once(sandbox: Sandbox) -> None:
    code = "calls = []\ndef g():\n    calls.append(1)\n    return len(calls)\n"
    report = sandbox.run_checks(code, ["assert g() == 1", "assert g() == 1", "g()"])
    # Each check gets a copy of the namespace, but the list object is shared by design.
    assert [r.value for r in report.results] == ["1", "2", "3"]
    assert [r.status for r in report.results] == ["passed", "failed", "passed"]


def test_syntax_error_in_candidate_is_one_clear_error(sandbox: Sandbox) -> None:
    report = sandbox.run_checks("def f(:\n    return 1\n", ["f(1)", "assert f(2) == 2"])
    assert report.compile_error is not None
    assert report.compile_error.startswith("SyntaxError") and "line 1" in report.compile_error
    assert [r.status for r in report.results] == ["error", "error"]
    assert all(r.message == report.compile_error for r in report.results)


def test_invalid_check_and_failing_load(sandbox: Sandbox) -> None:
    report = sandbox.run_checks(CODE, ["assert f(1) ==", "f(1)"])
    assert report.results[0].status == "error"
    assert "the check itself is invalid" in report.results[0].message
    assert report.results[1].status == "passed"

    report = sandbox.run_checks("raise ValueError('at import')\n", ["1", "2"])
    assert report.load_error is not None and "ValueError: at import" in report.load_error
    assert [r.status for r in report.results] == ["error", "error"]


def test_timeouts_and_crashes_spare_the_other_checks(sandbox: Sandbox) -> None:
    code = CODE + "import os, time\n"
    checks = [
        "assert f(1) == 2",
        "time.sleep(60)",  # interrupted by the per-check alarm
        "f(2)",
        "try:\n    while True: pass\nexcept BaseException:\n    while True: pass",  # alarm eaten
        "f(3)",
        "os._exit(7)",
        "f(4)",
        "raise SystemExit(3)",
        "f(5)",
    ]
    started = time.monotonic()
    report = sandbox.run_checks(code, checks)
    elapsed = time.monotonic() - started
    statuses = [r.status for r in report.results]
    assert statuses == ["passed", "timeout", "passed", "timeout", "passed", "error", "passed",
                        "error", "passed"], report
    assert [r.value for r in report.results[2::2]] == ["4", "6", "8", "10"]
    assert "status 7" in report.results[5].message
    assert "SystemExit" in report.results[7].message
    assert elapsed < 2 * 3 + 1 + 6  # two 3 s timeouts, the kill grace, noise


def test_hanging_load_times_out_every_check(sandbox: Sandbox) -> None:
    report = sandbox.run_checks("import time\ntime.sleep(60)\n", ["1", "2"])
    assert [r.status for r in report.results] == ["timeout", "timeout"]
    assert report.load_error is not None


def test_cancel_from_another_thread(sandbox: Sandbox) -> None:
    mark = marker()
    code = f"""
import subprocess, time
def slow():
    subprocess.Popen(["/bin/sleep", "{mark}"], start_new_session=True)
    time.sleep(2.5)
"""
    token = CancelToken()
    timer = threading.Timer(0.5, token.cancel)
    timer.start()
    started = time.monotonic()
    report = sandbox.run_checks(code, ["1 + 1", "slow()", "2 + 2"], cancel=token)
    elapsed = time.monotonic() - started
    timer.join()
    assert [r.status for r in report.results] == ["passed", "cancelled", "cancelled"]
    assert elapsed < 2.0  # not the 2.5 s the check sleeps
    assert wait_gone(mark, 2.0) == []
    # The sandbox starts a fresh worker for the next call.
    assert sandbox.run_checks(CODE, ["assert f(2) == 4"]).passed

    cancelled = CancelToken()
    cancelled.cancel()
    report = sandbox.run_checks(CODE, ["f(1)"], cancel=cancelled)
    assert [r.status for r in report.results] == ["cancelled"]


@needs_strong
def test_two_sandboxes_in_two_threads() -> None:
    failures: list[str] = []

    def work(offset: int) -> None:
        with Sandbox(timeout_s=3, force_weak=False) as sb:
            for i in range(15):
                x = offset + i
                report = sb.run_checks(CODE, [f"assert f({x}) == {2 * x}", f"f({x})"])
                if [r.value for r in report.results] != [str(2 * x)] * 2:
                    failures.append(repr(report))

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []


def test_one_sandbox_shared_by_threads_serialises_calls(sandbox: Sandbox) -> None:
    results: list[bool] = []

    def work(x: int) -> None:
        for _ in range(5):
            results.append(sandbox.run_checks(CODE, [f"assert f({x}) == {2 * x}"]).passed)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [True] * 15


def test_close_during_a_run_leaves_no_process() -> None:
    mark = marker()
    code = f"""
import subprocess, time
def slow():
    subprocess.Popen(["/bin/sleep", "{mark}"], start_new_session=True)
    time.sleep(30)
"""
    sb = Sandbox(timeout_s=20, allow_weak=True)
    reports = []
    thread = threading.Thread(target=lambda: reports.append(sb.run_checks(code, ["slow()"])))
    thread.start()
    deadline = time.monotonic() + 10
    while not host_processes_with(mark) and time.monotonic() < deadline:
        time.sleep(0.02)
    worker = sb._workers[None]
    assert worker is not None and host_processes_with(mark)
    sb.close()
    thread.join(10)
    assert [r.status for r in reports[0].results] == ["cancelled"]
    assert not worker.alive
    assert wait_gone(mark, 2.0) == []
    assert not os.path.exists(f"/proc/{worker.pid}") or _is_zombie_or_stranger(worker.pid)


def _is_zombie_or_stranger(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def test_worker_stays_warm_across_clean_runs(sandbox: Sandbox) -> None:
    sandbox.run_checks(CODE, ["f(1)"])
    worker = sandbox._workers[None]
    assert worker is not None
    runs = worker.runs
    for _ in range(3):
        assert sandbox.run_checks(CODE, ["assert f(1) == 2"]).passed
    # not recycled: nothing leaked
    assert sandbox._workers[None] is worker and worker.runs == runs + 3
