"""verifix.sandbox: run model-written code and project tests behind a boundary.

    with Sandbox(timeout_s=5, memory_mb=1024) as sb:        # sb.isolation -> "strong" | "weak"
        report = sb.run_checks(code, ["assert f(1) == 2"])  # report.results[i].status
"""

from verifix.sandbox.base import Runner
from verifix.sandbox.boundary import FORCE_WEAK_ENV, Isolation, detect_isolation
from verifix.sandbox.checks import Check
from verifix.sandbox.errors import SandboxError, SandboxUnavailable
from verifix.sandbox.limits import Limits
from verifix.sandbox.reports import (
    CheckReport,
    CheckResult,
    CheckStatus,
    IsolationLevel,
    TestReport,
    TestResult,
    TestStatus,
)
from verifix.sandbox.sandbox import Sandbox

__all__ = [
    "FORCE_WEAK_ENV",
    "Check",
    "CheckReport",
    "CheckResult",
    "CheckStatus",
    "Isolation",
    "IsolationLevel",
    "Limits",
    "Runner",
    "Sandbox",
    "SandboxError",
    "SandboxUnavailable",
    "TestReport",
    "TestResult",
    "TestStatus",
    "detect_isolation",
]
