"""What a sandbox run reports: one result per check or per requested pytest node id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CheckStatus = Literal["passed", "failed", "error", "timeout", "cancelled"]
TestStatus = Literal["passed", "failed", "error", "skipped", "timeout", "cancelled"]
IsolationLevel = Literal["strong", "weak"]


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: CheckStatus
    message: str = ""  # why it failed: "expected 2, got 3", "ZeroDivisionError: ..."
    output: str = ""  # stdout and stderr of this check, capped
    value: str | None = None  # repr() of what the check's expression evaluated to
    seconds: float | None = None


@dataclass(frozen=True)
class CheckReport:
    results: list[CheckResult]
    seconds: float
    isolation: IsolationLevel
    compile_error: str | None = None  # a syntax error in the candidate: every result is "error"
    load_error: str | None = None  # the candidate raised or hung while its module ran

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status == "passed" for r in self.results)

    @property
    def cancelled(self) -> bool:
        return any(r.status == "cancelled" for r in self.results)

    @property
    def values(self) -> list[str | None]:
        return [r.value for r in self.results]


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class

    node_id: str
    status: TestStatus
    message: str = ""  # pytest's failure text, capped
    output: str = ""  # captured output sections, capped
    seconds: float | None = None


@dataclass(frozen=True)
class TestReport:
    __test__ = False

    results: list[TestResult]
    seconds: float
    isolation: IsolationLevel
    error: str | None = None  # the session as a whole failed (config error, project too large)
    session_output: str = field(default="", repr=False)  # pytest's terminal tail, for diagnosis
    skipped_files: list[str] = field(default_factory=list)  # too large to copy into the sandbox

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status == "passed" for r in self.results)
