"""The host's side of a check: the candidate's value arrives as tagged plain data, is rebuilt
here from builtin types only, and is compared with the expected value here, where nothing the
candidate did (an always-equal `__eq__`, a patched builtin, a forged line) can reach.

Types count as a doctest reader counts them: `True` is not `1`, `5.0` is not `5` (unless the
check says numbers compare by value), a tuple is not a list. Floats compare within 1e-6 of the
expected value's scale, as the docstring's rounded figures need.
"""

from __future__ import annotations

import builtins
import operator
from dataclasses import dataclass
from typing import Any

from verifix.sandbox.checks import Check
from verifix.sandbox.reports import CheckResult, CheckStatus

VALUE_LIMIT = 2000
MAX_NODES = 200_000
MAX_DEPTH = 200
RELATIVE_TOLERANCE = 1e-6


class Malformed(ValueError):
    """Tagged data that no honest child sends."""


@dataclass(frozen=True)
class Foreign:
    """A value that is not plain data: an instance of some class, with its fields when it has
    a `__dict__`. It equals only a Foreign of the same class and fields."""

    module: str
    qualname: str
    fields: tuple[tuple[str, Any], ...] | None = None
    too_large: bool = False  # the child gave up on it: it equals nothing, not even itself

    def __repr__(self) -> str:
        name = f"{self.module}.{self.qualname}" if self.module else self.qualname
        if not self.fields:
            return f"<{name} object>"
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields)
        return f"<{name} object: {inner}>"


def decode(data: Any) -> Any:
    """Tagged data (lists as the child's encoder writes them) as builtin values and Foreign."""
    budget = [MAX_NODES]

    def text(x: Any) -> str:
        if not isinstance(x, str):
            raise Malformed("expected a string")
        return x

    def items(x: Any, depth: int) -> list[Any]:
        if not isinstance(x, list):
            raise Malformed("expected a list")
        return [walk(e, depth + 1) for e in x]

    def pairs(x: Any) -> list[tuple[Any, Any]]:
        if not isinstance(x, list) or not all(isinstance(p, list) and len(p) == 2 for p in x):
            raise Malformed("expected pairs")
        return [(p[0], p[1]) for p in x]

    def walk(node: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise Malformed("too large")
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise Malformed("not a tagged value")
        tag, args = node[0], node[1:]
        try:
            if tag == "N":
                return None
            if tag == "b":
                if not isinstance(args[0], bool):
                    raise Malformed("bad bool")
                return args[0]
            if tag == "i":
                return int(text(args[0]), 16)
            if tag == "f":
                return float.fromhex(text(args[0]))
            if tag == "c":
                return complex(float.fromhex(text(args[0])), float.fromhex(text(args[1])))
            if tag == "s":
                return text(args[0])
            if tag == "y":
                return bytes.fromhex(text(args[0]))
            if tag == "Y":
                return bytearray.fromhex(text(args[0]))
            if tag == "l":
                return items(args[0], depth)
            if tag == "t":
                return tuple(items(args[0], depth))
            if tag == "d":
                return {walk(k, depth + 1): walk(v, depth + 1) for k, v in pairs(args[0])}
            if tag == "S":
                return set(items(args[0], depth))
            if tag == "F":
                return frozenset(items(args[0], depth))
            if tag == "o":
                fields = tuple((text(k), walk(v, depth + 1)) for k, v in pairs(args[2]))
                return Foreign(text(args[0]), text(args[1]), fields)
            if tag == "x":
                return Foreign(text(args[0]), text(args[1]))
            if tag == "?":
                return Foreign("", f"value not compared: {text(args[0])}", too_large=True)
        except (IndexError, TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, Malformed):
                raise
            raise Malformed(str(exc)) from None
        raise Malformed(f"unknown tag {tag!r}")

    return walk(data, 0)


def render(value: Any) -> str:
    """How a value reads in messages and behaviour signatures (our repr of our rebuilt value)."""
    try:
        text = repr(value)
    except RecursionError:
        text = "<value too deep to show>"
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 3] + "..."


def canon(value: Any) -> Any:
    """A hashable form in which values of different types never meet (`1` vs `True`)."""
    t = type(value)
    if value is None:
        return ("N",)
    if t is float:
        return ("f", "nan" if value != value else value)
    if t is complex:
        return ("c", canon(value.real), canon(value.imag))
    if t in (bool, int, str, bytes):
        return (t.__name__, value)
    if t is bytearray:
        return ("bytearray", bytes(value))
    if t in (list, tuple):
        return (t.__name__, tuple(canon(v) for v in value))
    if t is dict:
        return ("dict", frozenset((canon(k), canon(v)) for k, v in value.items()))
    if t in (set, frozenset):
        return (t.__name__, frozenset(canon(v) for v in value))
    if t is Foreign:
        if value.too_large:
            return ("too large", id(value))
        fields = None if value.fields is None else tuple((k, canon(v)) for k, v in value.fields)
        return ("object", value.module, value.qualname, fields)
    raise Malformed(f"not a plain value: {t.__name__}")


def _close(got: float, want: float) -> bool:
    if got == want or (got != got and want != want):
        return True
    if abs(want) == float("inf") or abs(got) == float("inf"):
        return False
    return abs(got - want) < RELATIVE_TOLERANCE * max(1.0, abs(want))


def same(got: Any, want: Any, numbers_by_value: bool = False) -> bool:
    """Whether `got` is the value `want`, type by type."""
    tg, tw = type(got), type(want)
    if tg is not tw:
        numbers = (int, float)
        if numbers_by_value and tg in numbers and tw in numbers:
            try:
                return _close(float(got), float(want))
            except OverflowError:
                return bool(got == want)
        return False
    if tg is float:
        return _close(got, want)
    if tg is complex:
        return _close(got.real, want.real) and _close(got.imag, want.imag)
    if tg in (list, tuple):
        return len(got) == len(want) and all(
            same(g, w, numbers_by_value) for g, w in zip(got, want, strict=True))
    if tg is dict:
        g = {canon(k): v for k, v in got.items()}
        w = {canon(k): v for k, v in want.items()}
        return g.keys() == w.keys() and all(same(g[k], w[k], numbers_by_value) for k in w)
    return bool(canon(got) == canon(want))


@dataclass(frozen=True)
class Expected:
    """The expected value of an `equal` check, evaluated without the candidate."""

    value: Any = None
    error: str | None = None  # the expression could not be evaluated: the check is invalid


def judge(check: Check, event: dict[str, Any], expected: Expected | None) -> CheckResult:
    """The result of one check from what its call did (an event of the child, cleaned by the
    worker): the status is decided here, never taken from the child, except for scripts."""
    text = str(check)
    outcome = event.get("outcome")
    output = str(event.get("output") or "")
    seconds = event.get("seconds")
    seconds = float(seconds) if isinstance(seconds, (int, float)) else None
    message = str(event.get("message") or "")

    def result(status: CheckStatus, message: str = "", value: str | None = None) -> CheckResult:
        return CheckResult(text, status, message, output, value, seconds)

    if outcome == "timeout":
        return result("timeout", message or "the check did not finish in time")
    if outcome == "judged" and check.expect == "script":
        status = event.get("status")
        value = event.get("value")
        return result(status if status in ("passed", "failed", "timeout") else "error",
                      message, None if value is None else str(value)[:VALUE_LIMIT])
    if outcome == "raised":
        name = str(event.get("exc") or "")
        module = str(event.get("exc_module") or "")
        if check.expect == "raises":
            # A builtin exception's name must mean the builtin one, not a lookalike class.
            builtin = isinstance(getattr(builtins, check.raises or "", None), type)
            if name and name == check.raises and (module == "builtins" or not builtin):
                return result("passed")
            shown = message if module in ("builtins", "") else f"{module}.{message}"
            return result("failed", f"expected {check.raises}, got {shown}")
        return result("error", message or name or "an exception")
    if outcome != "value":
        return result("error", message or "the check gave no result")
    try:
        got = decode(event.get("data"))
        shown = render(got)
    except (Malformed, RecursionError) as exc:
        return result("error", f"the value could not be read as plain data ({exc})")
    if isinstance(got, Foreign) and got.too_large:
        return result("error", f"the value is too large to judge ({got.qualname})", shown)
    if check.expect == "value":
        return result("passed", value=shown)
    if check.expect == "raises":
        return result("failed", f"expected {check.raises} to be raised, got {shown}", shown)
    if check.expect in ("truthy", "falsy"):
        truth = _truth(got)
        if truth is None:
            return result("failed", f"expected plain data to test, got {shown}", shown)
        if truth == (check.expect == "truthy"):
            return result("passed", value=shown)
        return result("failed", f"expected {check.call} to be "
                      f"{'true' if check.expect == 'truthy' else 'false'}, got {shown}", shown)
    if expected is None:
        return result("error", "the check has no expected value")
    if expected.error is not None:
        return result("error", f"the check itself is invalid: its expected value "
                               f"{check.expected} gives {expected.error}")
    want = expected.value
    if isinstance(want, Foreign) and want.too_large:
        return result("error", f"the check itself is invalid: its expected value is too large "
                               f"to judge ({want.qualname})", shown)
    if check.expect == "equal":
        ok = same(got, want, check.numbers_by_value)
        detail = f"expected {render(want)}, got {shown}"
    elif check.expect == "close":
        ok = _number(got) and _number(want) and abs(got - want) < check.tolerance
        detail = f"expected {check.call} within {check.tolerance!r} of {render(want)}, got {shown}"
    else:
        ok = _compare(got, check.op, want)
        detail = f"expected {check.call} {check.op} {render(want)}, got {shown}"
    if ok:
        return result("passed", value=shown)
    if isinstance(got, Foreign) and not isinstance(want, Foreign):
        detail += " (not plain data: only builtin values can equal the expected value)"
    return result("failed", detail, shown)


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _has_foreign(value: Any, depth: int = 0) -> bool:
    if isinstance(value, Foreign) or depth > MAX_DEPTH:
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_foreign(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_has_foreign(k, depth + 1) or _has_foreign(v, depth + 1)
                   for k, v in value.items())
    return False


def _truth(value: Any) -> bool | None:
    """The truth of plain data (our own bool of our own rebuilt value); None for Foreign."""
    return None if isinstance(value, Foreign) else bool(value)


def _compare(got: Any, op: str, want: Any) -> bool:
    """An ordering or membership on plain data; never true for a Foreign value."""
    if _has_foreign(got) or _has_foreign(want):
        return False
    if op == "!=":
        return not same(got, want)
    if op == "is not":
        return not same(got, want)
    if op in ("in", "not in"):
        if type(want) in (list, tuple, set, frozenset):
            found = any(same(got, w) for w in want)
        elif type(want) is dict:
            found = any(same(got, k) for k in want)
        elif type(want) in (str, bytes) and type(got) is type(want):
            found = got in want
        else:
            return False
        return found == (op == "in")
    if type(got) is bool or type(want) is bool:
        return False
    kinds = {type(got), type(want)}
    if not (kinds <= {int, float} or len(kinds) == 1 and kinds <= {str, bytes, tuple, list}):
        return False
    try:
        return bool({"<": operator.lt, "<=": operator.le, ">": operator.gt,
                     ">=": operator.ge}[op](got, want))
    except (TypeError, KeyError):
        return False
