"""Running candidates: trusted checks (a hard filter) and generated inputs (for agreement)."""

from __future__ import annotations

from collections.abc import Sequence

from verifix import code as pycode
from verifix.engine.base import CancelToken
from verifix.pipeline.candidates import Candidate
from verifix.pipeline.task import Cancelled, Task, changed_modules
from verifix.sandbox.base import Runner
from verifix.sandbox.checks import Check
from verifix.sandbox.reports import CheckResult, TestResult

MAX_FAILURE_CHARS = 600


class Verifier:
    def __init__(self, task: Task, sandbox: Runner, cancel: CancelToken | None) -> None:
        self.task = task
        self.sandbox = sandbox
        self.cancel = cancel
        self.runs = 0

    def program(self, cand: Candidate) -> str:
        """The module with the candidate in place of the function (what would be applied)."""
        return self.modules(cand)[self.task.module_relpath or ""]

    def modules(self, cand: Candidate) -> dict[str, str]:
        """Every module the candidate changes, by path relative to the project."""
        return changed_modules(self.task, cand.function_code, cand.imports, cand.helpers,
                               cand.changes)

    def _raise_if_cancelled(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled

    def check_trusted(self, cand: Candidate) -> Candidate:
        """Run every trusted check; record passed/total and the failure texts for repair."""
        task = self.task
        passed, failures = 0, []
        program = self.program(cand)
        if task.trusted_checks:
            report = self.sandbox.run_checks(program, task.trusted_checks, cancel=self.cancel)
            self.runs += 1
            self._raise_if_cancelled()
            for check, result in zip(task.trusted_checks, report.results, strict=False):
                if result.status == "passed":
                    passed += 1
                else:
                    failures.append(_describe(check, result))
        if task.project_tests and task.project_root is not None and task.module_relpath:
            treport = self.sandbox.run_project_tests(
                task.project_root, self.modules(cand), task.project_tests,
                cancel=self.cancel, python=task.python,
            )
            self.runs += 1
            self._raise_if_cancelled()
            for test in treport.results:
                if test.node_id == task.oracle_test:
                    cand.oracle_returned = _returned(test)
                if test.status == "passed":
                    passed += 1
                else:
                    failures.append(f"{test.node_id} {test.status}:\n{_cap(test.message)}")
        cand.trusted_passed, cand.trusted_total = passed, task.trusted_total
        cand.failures = failures
        return cand

    def behaviour(self, cand: Candidate, inputs: Sequence[str]) -> tuple[str, ...]:
        """What the candidate does on each input: its value's repr, or the error it raises."""
        if not inputs:
            cand.behaviour = ()
            return ()
        report = self.sandbox.run_checks(self.program(cand), list(inputs), cancel=self.cancel)
        self.runs += 1
        self._raise_if_cancelled()
        signature = []
        for result in report.results:
            if result.status == "passed":
                signature.append("=" + str(result.value))
            elif result.status == "timeout":
                signature.append("!timeout")
            else:
                signature.append("!" + _error_kind(result.message))
        cand.behaviour = tuple(signature)
        return cand.behaviour

    def evaluate_expected(self, expressions: Sequence[str | None]) -> list[str | None]:
        """reprs of model-predicted results (soft votes); None where not a valid value."""
        todo = [e for e in expressions if e is not None]
        if not todo:
            return [None for _ in expressions]
        report = self.sandbox.run_checks(self.task.context or "", todo, cancel=self.cancel)
        self.runs += 1
        self._raise_if_cancelled()
        values = iter(report.results)
        out: list[str | None] = []
        for e in expressions:
            if e is None:
                out.append(None)
                continue
            r = next(values)
            out.append("=" + str(r.value) if r.status == "passed" else None)
        return out


def _returned(test: TestResult) -> bool:
    """The test passed, or failed in its own file (its assertion judged a returned value)."""
    if test.status == "passed":
        return True
    frames = pycode.traceback_frames(test.message or "")
    return test.status == "failed" and bool(frames) and pycode.is_test_file(frames[-1].path)


def _describe(check: Check, result: CheckResult) -> str:
    got = f" (got {result.value})" if result.value is not None and result.status == "failed" else ""
    message = (result.message or result.status).strip()
    return _cap(f"{check}\n  -> {result.status}: {message}{got}")


def _error_kind(message: str | None) -> str:
    head = (message or "error").strip().split(":", 1)[0].split()
    return head[0] if head else "error"


def _cap(text: str | None) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_FAILURE_CHARS else text[:MAX_FAILURE_CHARS] + " …"
