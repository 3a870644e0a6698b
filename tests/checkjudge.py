"""Judge a Check in this process, the way the sandbox host does (for trusted code in tests)."""

from __future__ import annotations

from typing import Any

from verifix.sandbox.checks import Check
from verifix.sandbox.judging import Expected, decode, judge
from verifix.sandbox.reports import CheckResult
from verifix.sandbox.worker import to_plain


def judge_here(check: Check, namespace: dict[str, Any]) -> CheckResult:
    expected = None
    if check.expect == "equal":
        expected = Expected(decode(to_plain(eval(check.expected or "None", {}))))  # noqa: S307
    ns = dict(namespace)
    try:
        if check.setup.strip():
            exec(check.setup, ns)  # noqa: S102 - trusted test code
        event: dict[str, Any] = {"outcome": "value", "data": to_plain(eval(check.call, ns))}  # noqa: S307
    except Exception as exc:  # noqa: BLE001 - what the call raised is its behaviour
        event = {"outcome": "raised", "exc": type(exc).__name__,
                 "message": f"{type(exc).__name__}: {exc}"}
    return judge(check, event, expected)
