"""What a check asks of a candidate, in a form the candidate cannot judge for itself.

A check is a call evaluated with the candidate loaded (after optional setup statements), and an
expectation the host judges from the call's value as plain data: the candidate's own `__eq__`,
`__repr__` or patched builtins never take part. Only a `script` (a snippet of asserts the
sandbox cannot split, e.g. a benchmark's hidden `check(candidate)`) is judged in the candidate's
process; scripts score benchmarks and are never evidence for `verified`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Literal

Expect = Literal["value", "equal", "compare", "close", "truthy", "falsy", "raises", "script"]
COMPARISONS = {ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
               ast.In: "in", ast.NotIn: "not in", ast.IsNot: "is not"}

# Names a self-contained expected value may use: a few constructors and constants.
_VALUE_NAMES = frozenset({"float", "int", "str", "bool", "set", "frozenset", "tuple", "list",
                          "dict", "bytes", "complex", "range", "True", "False", "None"})


@dataclass(frozen=True)
class Check:
    call: str  # an expression evaluated in the candidate's namespace
    expect: Expect = "value"
    expected: str | None = None  # a self-contained expression, evaluated apart
    op: str = "=="  # "compare": the operator between the call and the expected value
    tolerance: float = 0.0  # "close": how far from the expected value is still equal
    setup: str = ""  # statements run first, in the candidate's namespace
    raises: str | None = None  # "raises": the exception's class name
    numbers_by_value: bool = False  # "equal": 5 may stand for 5.0 (prose says "returns 5")
    source: str = ""  # how the check reads, for messages and prompts

    def __str__(self) -> str:
        return self.source or self.describe()

    def describe(self) -> str:
        prefix = self.setup.rstrip("\n") + "\n" if self.setup.strip() else ""
        if self.expect == "equal":
            return f"{prefix}assert {self.call} == {self.expected}"
        if self.expect == "compare":
            return f"{prefix}assert {self.call} {self.op} {self.expected}"
        if self.expect == "close":
            return f"{prefix}assert abs({self.call} - {self.expected}) < {self.tolerance!r}"
        if self.expect in ("truthy", "falsy"):
            return f"{prefix}assert {'not ' if self.expect == 'falsy' else ''}{self.call}"
        if self.expect == "raises":
            return f"{prefix}{self.call}  # raises {self.raises}"
        return prefix + self.call

    def wire(self) -> dict[str, Any]:
        """What the candidate's process is told: never the expected value."""
        return {"call": self.call, "setup": self.setup, "script": self.expect == "script"}


def as_check(check: str | Check) -> Check:
    return check if isinstance(check, Check) else parse_snippet(str(check))


def parse_snippet(text: str) -> Check:
    """A snippet as a check: a bare expression is a `value` check; statements ending in an
    assert the host can judge (see `_split_assert`) that check, with the statements before it
    as setup; anything else a `script`."""
    try:
        tree = ast.parse(text, "<check>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return Check(call=text, expect="script", source=text)
    body = tree.body
    if not body:
        return Check(call=text, expect="script", source=text)
    last = body[-1]
    setup = "\n".join(ast.get_source_segment(text, s) or ast.unparse(s) for s in body[:-1])
    if any(_has_assert(s) for s in body[:-1]):
        return Check(call=text, expect="script", source=text)
    if isinstance(last, ast.Expr):
        return Check(call=_segment(text, last.value), setup=setup, source=text)
    if isinstance(last, ast.Assert) and last.msg is None:
        split = _split_assert(text, last.test, setup)
        if split is not None:
            return split
    return Check(call=text, expect="script", source=text)


def _split_assert(text: str, test: ast.expr, setup: str) -> Check | None:
    """`assert X op V`, `assert abs(X - V) < T`, `assert X`, `assert not X` (V and T
    self-contained) as a check the host judges; None for anything else."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return Check(_segment(text, test.operand), "falsy", setup=setup, source=text)
    if not isinstance(test, ast.Compare):
        return Check(_segment(text, test), "truthy", setup=setup, source=text)
    if len(test.ops) != 1 or not self_contained(test.comparators[0]):
        return None
    op, left, right = test.ops[0], test.left, test.comparators[0]
    expected = _segment(text, right)
    if isinstance(op, (ast.Lt, ast.LtE)) and isinstance(left, ast.Call) and isinstance(
            left.func, ast.Name) and left.func.id == "abs" and len(left.args) == 1 and \
            not left.keywords and isinstance(left.args[0], ast.BinOp) and isinstance(
            left.args[0].op, ast.Sub) and self_contained(left.args[0].right):
        try:
            tolerance = float(ast.literal_eval(right))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        return Check(_segment(text, left.args[0].left), "close",
                     expected=_segment(text, left.args[0].right), tolerance=tolerance,
                     setup=setup, source=text)
    call = _segment(text, left)
    if isinstance(op, (ast.Eq, ast.Is)):
        if isinstance(op, ast.Is) and not _singleton(right):
            return None
        return Check(call, "equal", expected=expected, setup=setup, source=text)
    symbol = COMPARISONS.get(type(op))
    if symbol is None or (symbol == "is not" and not _singleton(right)):
        return None
    return Check(call, "compare", expected=expected, op=symbol, setup=setup, source=text)


def _singleton(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and any(node.value is c for c in (None, True, False))


def self_contained(node: ast.AST) -> bool:
    """Literals, containers, arithmetic and a few constructors: nothing of the candidate's."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id not in _VALUE_NAMES:
            return False
        if isinstance(sub, (ast.Attribute, ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield,
                            ast.YieldFrom, ast.comprehension, ast.Starred, ast.Subscript)):
            return False
    return True


def _has_assert(stmt: ast.stmt) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(stmt))


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or ast.unparse(node)
