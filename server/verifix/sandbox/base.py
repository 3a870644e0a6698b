"""The Runner protocol the pipeline and the language server use; `Sandbox` implements it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Protocol

from verifix.cancel import CancelToken
from verifix.sandbox.checks import Check
from verifix.sandbox.interpreter import Interpreter
from verifix.sandbox.reports import CheckReport, IsolationLevel, TestReport


class Runner(Protocol):
    """Runs untrusted code away from the user's files: checks and project tests."""

    @property
    def isolation(self) -> IsolationLevel: ...

    def run_checks(self, code: str, checks: Sequence[str | Check],
                   cancel: CancelToken | None = None) -> CheckReport:
        """Load `code` in a fresh process and run each check (a Check, or a snippet read as
        one) against it."""
        ...

    def run_project_tests(self, project_root: str | os.PathLike[str],
                          replacements: Mapping[str, str], node_ids: Sequence[str],
                          cancel: CancelToken | None = None,
                          python: Interpreter | None = None) -> TestReport:
        """Run pytest node ids against a copy of the project with `replacements` written,
        with the project's interpreter (None: verifix's own)."""
        ...

    def close(self) -> None: ...
