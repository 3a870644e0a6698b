"""`Sandbox`: run model-written code and a project's tests behind the boundary, fast.

One warm worker per Sandbox (inside bubblewrap when isolation is strong) forks a limited child per
execution. Calls on one instance are serialised; separate instances run in parallel. A CancelToken
kills the running worker at once; the next call starts a fresh one.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from verifix.cancel import CancelToken
from verifix.sandbox import boundary
from verifix.sandbox.checks import Check, as_check
from verifix.sandbox.client import WorkerDied, WorkerProcess
from verifix.sandbox.errors import SandboxError, SandboxUnavailable
from verifix.sandbox.interpreter import Interpreter
from verifix.sandbox.judging import Expected, Malformed, decode, judge
from verifix.sandbox.limits import Limits
from verifix.sandbox.project import (
    ProjectTooLarge,
    aggregate,
    existing_paths,
    node_path,
    normalize_node_id,
    snapshot,
)
from verifix.sandbox.reports import (
    CheckReport,
    CheckResult,
    CheckStatus,
    IsolationLevel,
    TestReport,
    TestResult,
)
from verifix.sandbox.worker import GRACE_S, count_processes_of, wipe

MAX_PROJECT_WORKERS = 3  # warm project workers kept (an editor may have several projects open)
RECYCLE_AFTER_RUNS = 200  # a fresh worker now and then: no slow build-up of anything
HOST_SLACK_S = 5.0  # the host's backstop fires this long after the worker's own deadlines

_log = logging.getLogger(__name__)
_open_sandboxes: weakref.WeakSet[Sandbox] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for sandbox in list(_open_sandboxes):
        with contextlib.suppress(Exception):
            sandbox.close()


class Sandbox:
    """Runs untrusted candidates (`run_checks`) and project tests (`run_project_tests`)."""

    def __init__(self, timeout_s: float = 5.0, memory_mb: int = 1024, allow_weak: bool = False,
                 *, force_weak: bool | None = None, limits: Limits | None = None) -> None:
        self.limits = limits or Limits(timeout_s=float(timeout_s), memory_mb=int(memory_mb))
        probe = boundary.detect_isolation(force_weak=force_weak)
        if probe.level == "none" or (probe.level == "weak" and not (allow_weak or probe.forced)):
            remedy = f"; {probe.remedy}" if probe.remedy else ""
            hint = "" if probe.level == "none" else " (or allow weak isolation: sandbox.allowWeak)"
            raise SandboxUnavailable(f"no sandbox boundary: {probe.reason}{remedy}{hint}")
        self.probe = probe
        self._isolation: IsolationLevel = "strong" if probe.level == "strong" else "weak"
        if self._isolation == "weak":
            # Say it plainly: rlimits only, no filesystem, network or process boundary.
            _log.warning("sandbox isolation is WEAK (rlimits only, no boundary): %s%s",
                         probe.reason, f"; to fix: {probe.remedy}" if probe.remedy else "")
        self._lock = threading.Lock()
        self._expected: dict[str, Expected] = {}  # expected values by expression
        # One worker for checks (key None) and one per project interpreter and root.
        self._workers: dict[_Key, WorkerProcess] = {}
        self._scratches: dict[_Key, str] = {}  # weak isolation: a scratch dir per worker
        self._closed = False
        _open_sandboxes.add(self)

    @property
    def isolation(self) -> IsolationLevel:
        return self._isolation

    # -- lifecycle --

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the checks worker now instead of on the first call."""
        with self._lock:
            self._ensure_worker(None)

    def close(self) -> None:
        """Kill the workers and everything they started; remove the scratch directories."""
        self._closed = True
        for worker in list(self._workers.values()):
            worker.kill()  # at once, also when another thread is inside a call
        with self._lock:
            for key in list(self._workers):
                self._discard_worker(key)
        _open_sandboxes.discard(self)

    def _spawn(self, key: _Key) -> WorkerProcess:
        python = key[0] if key else None
        as_root = self.probe.drop_root
        if self._isolation == "strong":
            assert self.probe.bwrap is not None
            nproc_base = count_processes_of(boundary.NOBODY) if as_root else 0
            if not as_root and _kernel_before(5, 14):
                # Older kernels count RLIMIT_NPROC per uid across user namespaces.
                nproc_base = count_processes_of(os.getuid())
            project_at = key[2] if key else None
            argv = boundary.bwrap_argv(self.probe.bwrap, as_root=as_root,
                                       scratch_mb=self.limits.scratch_mb,
                                       tmp_mb=self.limits.tmp_mb,
                                       roots=list(key[1]) if key else None,
                                       project_at=project_at)
            argv += [*boundary.python_argv(python), boundary.INSIDE_WORKER,
                     *boundary.worker_args(strong=True, as_root=as_root, nproc_base=nproc_base,
                                           project_at=project_at)]
            return WorkerProcess(argv, env=_host_env(), cwd="/", in_pid_namespace=True)
        scratch = self._scratches.get(key)
        if scratch is None:
            scratch = self._scratches[key] = tempfile.mkdtemp(prefix="verifix-sandbox-")
        argv = [*boundary.python_argv(python), str(boundary.WORKER_FILE), "--scratch", scratch,
                *boundary.worker_args(strong=False, as_root=False, nproc_base=0)]
        env = _host_env() | {"HOME": scratch, "TMPDIR": scratch,
                             "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        return WorkerProcess(argv, env=env, cwd=scratch, in_pid_namespace=False)

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox is closed")

    def _ensure_worker(self, key: _Key) -> WorkerProcess:
        self._check_open()
        worker = self._workers.get(key)
        if worker is not None and (not worker.alive or worker.runs >= RECYCLE_AFTER_RUNS):
            self._discard_worker(key)
            worker = None
        if worker is None:
            project_workers = [k for k in self._workers if k is not None]
            if key is not None and len(project_workers) >= MAX_PROJECT_WORKERS:
                self._discard_worker(project_workers[0])  # the oldest project's
            worker = self._spawn(key)
            self._workers[key] = worker
        return worker

    def _discard_worker(self, key: _Key) -> None:
        worker = self._workers.pop(key, None)
        if worker is not None:
            worker.close()
        scratch = self._scratches.pop(key, None)
        if scratch is not None:  # a dead worker may have left a run behind: start afresh
            wipe(scratch, remove_root=True)

    # -- checks --

    def run_checks(self, code: str, checks: Sequence[str | Check],
                   cancel: CancelToken | None = None) -> CheckReport:
        """Load `code` in a fresh child and run each check against it; the host judges each
        check from the plain value its call returned (see verifix.sandbox.judging)."""
        self._check_open()
        started = time.monotonic()
        parsed = [as_check(c) for c in checks]
        expected = self._expected_values(parsed, cancel)
        events, compile_error, load = self._run_calls(code, parsed, cancel)
        texts = [str(c) for c in parsed]
        if compile_error is not None:
            results = [CheckResult(t, "error", compile_error) for t in texts]
        else:
            results = []
            missing: CheckStatus = "cancelled" if _cancelled(cancel) or self._closed else "error"
            for i, check in enumerate(parsed):
                event = events.get(i)
                if event is not None:
                    results.append(judge(check, event, expected.get(check.expected or "")))
                elif load is not None:
                    results.append(CheckResult(texts[i], load[0], load[1], load[2]))
                else:
                    results.append(CheckResult(texts[i], missing,
                                               missing if missing == "cancelled" else "not run"))
        return CheckReport(results, round(time.monotonic() - started, 6), self._isolation,
                           compile_error, None if load is None else load[1])

    def _expected_values(self, checks: Sequence[Check], cancel: CancelToken | None
                         ) -> dict[str, Expected]:
        """The expected value of every `equal` check, evaluated in a child without any
        candidate (and remembered: a task's checks are the same for every candidate)."""
        wanted = {c.expected for c in checks if c.expected is not None}
        todo = sorted(wanted - self._expected.keys())
        if todo:
            events, compile_error, load = self._run_calls("", [Check(e) for e in todo], cancel)
            if _cancelled(cancel):
                return self._expected
            if len(self._expected) > 10_000:
                self._expected.clear()
            for i, text in enumerate(todo):
                event = events.get(i)
                if event is None or event.get("outcome") != "value":
                    reason = (compile_error or (load[1] if load else None)
                              or (event or {}).get("message") or "no value")
                    self._expected[text] = Expected(error=str(reason))
                    continue
                try:
                    self._expected[text] = Expected(decode(event.get("data")))
                except Malformed as exc:
                    self._expected[text] = Expected(error=str(exc))
        return self._expected

    def _run_calls(self, code: str, checks: Sequence[Check], cancel: CancelToken | None
                   ) -> tuple[dict[int, dict[str, Any]], str | None,
                              tuple[CheckStatus, str, str] | None]:
        """What each check's call did, by index (events for `judge`); the candidate's compile
        error; its load failure (status, message, output)."""
        wire = [c.wire() for c in checks]
        events: dict[int, dict[str, Any]] = {}
        compile_error: str | None = None
        load: tuple[CheckStatus, str, str] | None = None
        with self._lock:
            next_index = 0
            attempts = 0
            while next_index < len(wire) and compile_error is None and load is None:
                if _cancelled(cancel):
                    break
                attempts += 1
                if attempts > len(wire) + 2:
                    break
                job = {"op": "checks", "code": code, "checks": wire, "start": next_index,
                       "timeout": self.limits.timeout_s, "output_limit": self.limits.output_limit,
                       "limits": self.limits.wire()}
                budget = (len(wire) - next_index + 1) * (self.limits.timeout_s + GRACE_S + 1)
                outcome = self._run_job(job, b"", budget, cancel)
                for event in outcome.events:
                    ev = event.get("ev")
                    if ev == "result":
                        index = int(event["index"])
                        if 0 <= index < len(wire) and index not in events:
                            events[index] = event
                    elif ev == "compile_error":
                        compile_error = str(event.get("message") or "SyntaxError")
                    elif ev == "load_failed":
                        load = ("timeout" if event.get("status") == "timeout" else "error",
                                str(event.get("message") or "the candidate failed to load"),
                                str(event.get("output", "")))
                while next_index in events:
                    next_index += 1
                broke = outcome.broke
                if broke is None:
                    break
                # The worker died or hung: blame the check under way, go on with a new worker.
                if next_index < len(wire):
                    events[next_index] = {"outcome": "timeout" if outcome.timed_out else "error",
                                          "message": broke}
                    next_index += 1
        return events, compile_error, load

    # -- project tests --

    def run_project_tests(self, project_root: str | os.PathLike[str],
                          replacements: Mapping[str, str], node_ids: Sequence[str],
                          cancel: CancelToken | None = None,
                          python: Interpreter | None = None) -> TestReport:
        """Run pytest node ids against a throwaway copy of the project with files replaced,
        with the project's interpreter (`python`; default: verifix's own)."""
        self._check_open()
        started = time.monotonic()
        requested = [normalize_node_id(n) for n in node_ids]
        skipped: list[str] = []

        def report(results: list[TestResult], error: str | None = None,
                   output: str = "") -> TestReport:
            return TestReport(results, round(time.monotonic() - started, 6), self._isolation,
                              error, output, skipped)

        try:
            copy = snapshot(Path(project_root), replacements,
                            max_file_bytes=self.limits.max_file_bytes,
                            max_total_bytes=self.limits.max_project_bytes)
        except (ProjectTooLarge, FileNotFoundError, ValueError) as exc:
            return report([TestResult(n, "error", str(exc)) for n in requested], str(exc))
        skipped = copy.skipped_large
        present = existing_paths(requested, copy.paths())
        paths = sorted(p for p, ok in present.items() if ok)
        items: dict[str, dict[str, Any]] = {}
        collect_errors: dict[str, str] = {}
        session_error: str | None = None
        session_output = ""
        outcome = _JobOutcome()
        if paths and not _cancelled(cancel):
            job = {"op": "pytest", "files": copy.files, "paths": paths,
                   "root": os.path.abspath(project_root),
                   "wanted": sorted(set(requested)), "timeout": self.limits.timeout_s,
                   "setup_timeout": self.limits.setup_timeout_s, "limits": self.limits.wire(),
                   "cpu_seconds": int(self.limits.setup_timeout_s * 2
                                      + self.limits.timeout_s * (len(requested) * 20 + 10))}
            budget = self.limits.setup_timeout_s * 3 + self.limits.timeout_s * (
                len(requested) * 20 + 10)
            key = self._project_key(Path(project_root), python)
            with self._lock:
                outcome = self._run_job(job, copy.blob, budget, cancel, key)
            for event in outcome.events:
                ev = event.get("ev")
                if ev == "item":
                    items[str(event["nodeid"])] = event
                elif ev == "collect_error":
                    collect_errors[str(event.get("nodeid", ""))] = str(event.get("message", ""))
                elif ev == "session_error":
                    session_error = str(event.get("message", "pytest failed"))
                    session_output = str(event.get("output", ""))
                elif ev == "session_done":
                    session_output = str(event.get("output", ""))
                    code = event.get("exit_code")
                    if code in (2, 3, 4) and not items:
                        session_error = f"pytest stopped with exit code {code}"
            if session_error is None:
                session_error = outcome.broke
        results: list[TestResult] = []
        for node_id in requested:
            if not present.get(node_path(node_id), False):
                results.append(TestResult(node_id, "error", f"not found: {node_path(node_id)}"))
                continue
            result = aggregate(node_id, items, collect_errors)
            if result is None:
                if outcome.cancelled:
                    result = TestResult(node_id, "cancelled", "cancelled")
                elif session_error is not None:
                    tail = session_output.strip()[-2000:]
                    result = TestResult(node_id, "error", session_error + (
                        f"\n{tail}" if tail else ""))
                else:
                    result = TestResult(node_id, "error", "not found: no test matched this id")
            results.append(result)
        return report(results, session_error, session_output)

    def _project_key(self, root: Path, python: Interpreter | None) -> _Key:
        root_text = os.path.abspath(root)
        place = root_text if self._isolation == "strong" and boundary.can_place_project(
            root_text) else None
        if python is None:
            return ("", tuple(boundary.python_roots()), place)
        return (python.path, tuple(boundary.mount_roots(python.mounts(project=root_text))),
                place)

    # -- one job on the worker --

    def _run_job(self, job: dict[str, Any], blob: bytes, budget_s: float,
                 cancel: CancelToken | None, key: _Key = None) -> _JobOutcome:
        """Send one job and gather its events until "done"; never raises for a broken worker."""
        outcome = _JobOutcome()
        if _cancelled(cancel):
            outcome.cancelled = True
            return outcome
        try:
            worker = self._ensure_worker(key)
        except SandboxError:
            if not self._closed:
                raise
            outcome.cancelled = True  # closed from another thread meanwhile
            return outcome
        unregister: Callable[[], None] = lambda: None  # noqa: E731
        if cancel is not None:
            unregister = cancel.on_cancel(worker.kill)
        try:
            worker.runs += 1
            worker.send(job, blob)
            deadline = time.monotonic() + budget_s + HOST_SLACK_S
            while True:
                event = worker.read_event(deadline)
                if event is None:
                    break
                if event.get("ev") == "done":
                    outcome.finished = True
                    if event.get("recycle"):
                        self._discard_worker(key)
                    return outcome
                outcome.events.append(event)
            if _cancelled(cancel) or self._closed:
                outcome.cancelled = True  # killed on purpose, from another thread
            elif time.monotonic() >= deadline:
                outcome.timed_out = True
                outcome.failure = "the sandbox did not answer in time (killed by the host)"
            else:
                tail = worker.log_tail()
                outcome.failure = "the sandbox worker died" + (f": {tail[-300:]}" if tail else "")
        except WorkerDied as exc:
            outcome.failure = str(exc)
            if _cancelled(cancel) or self._closed:
                outcome.cancelled = True
        finally:
            unregister()
        self._discard_worker(key)
        return outcome


class _JobOutcome:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.finished = False
        self.cancelled = False
        self.timed_out = False
        self.failure: str | None = None

    @property
    def broke(self) -> str | None:
        """Why the worker failed the job (it died or hung); None if it finished or was cancelled."""
        if self.finished or self.cancelled:
            return None
        return self.failure or "the sandbox worker died"


# A worker: None for checks; (interpreter, its mounts, where the project's copy sits) for tests.
_Key = tuple[str, tuple[str, ...], str | None] | None


def _cancelled(cancel: CancelToken | None) -> bool:
    return cancel is not None and cancel.cancelled


def _host_env() -> dict[str, str]:
    """The environment of the worker process: nothing of the user's."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _kernel_before(major: int, minor: int) -> bool:
    try:
        parts = os.uname().release.split(".")
        return (int(parts[0]), int(parts[1].split("-")[0])) < (major, minor)
    except (ValueError, IndexError):
        return True

