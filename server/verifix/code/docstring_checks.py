"""Examples written in docstrings, every form, and the checks made from them for the sandbox
(the cheapest trusted evidence)."""

from __future__ import annotations

import ast

from verifix.code.doctest_examples import doctest_examples
from verifix.code.example_values import Example, parse_expr
from verifix.code.prose_examples import prose_examples

_MAX_DOCSTRING = 100_000


def docstring_examples(docstring: str, func_name: str,
                       params: list[str] | None = None) -> list[Example]:
    """The examples in a docstring, in order of appearance: doctests, and the prose forms in
    the lines doctests do not take. `params` (the parameter names, without `self`) lets the
    `For x = ...` / `Input: ...` forms check their arity and order keyword-style inputs; without
    it they are passed by position as written.

    An example is only kept when its call is a valid expression calling the function (with no
    names it cannot resolve) and its expected value is a valid, self-contained Python expression.
    A doctest whose output is not an expression (printed text) keeps its call with
    `expected=None`: useful as an input, never as a check with a value."""
    if not docstring or not func_name:
        return []
    doc = docstring[:_MAX_DOCSTRING].expandtabs()
    examples, used = doctest_examples(doc, func_name)
    lines = doc.split("\n")
    masked = "\n".join("" if i in used else line for i, line in enumerate(lines))
    examples += prose_examples(masked, func_name, params)
    seen: set[tuple] = set()
    unique = []
    for e in sorted(examples, key=lambda e: e.source_line):
        key = (e.call, e.expected, tuple(e.setup), e.raises)
        if key in seen:
            continue
        seen.add(key)
        unique.append(e)
    return unique


def _needs_parens(node: ast.expr) -> bool:
    """Whether `x == <node>` needs parentheses around the node (everything but these binds
    tighter than a comparison)."""
    return isinstance(node, (ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.NamedExpr)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))


def _paren(text: str, node: ast.expr) -> str:
    return f"({text})" if _needs_parens(node) else text


def _float_literal(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _float_literal(node.operand)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _number_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and \
        _number_literal(node.operand)


def _tolerance(values: list[float]) -> str:
    scale = max([1.0] + [abs(v) for v in values if v == v and abs(v) != float("inf")])
    return format(1e-6 * scale, ".3g")


def example_checks(examples: list[Example]) -> list[str]:
    """Check snippets for the sandbox, one per example that has an expected value or exception:
    `assert f(1) == 2`; floats compare with a tolerance; doctest setup lines come first."""
    checks: list[str] = []
    for e in examples:
        call_node = parse_expr(e.call)
        if call_node is None:
            continue
        call = _paren(e.call, call_node)
        prefix = "".join(s.rstrip("\n") + "\n" for s in e.setup)
        if e.raises is not None:
            name = e.raises
            checks.append(
                f"{prefix}try:\n    {e.call}\nexcept Exception as _e:\n"
                f"    assert type(_e).__name__ == {name!r}, "
                f"f'expected {name}, got {{type(_e).__name__}}: {{_e}}'\n"
                f"else:\n    raise AssertionError({('expected ' + name + ' to be raised')!r})")
            continue
        if e.expected is None:
            continue
        node = parse_expr(e.expected)
        if node is None:
            continue
        expected = _paren(e.expected, node)
        if isinstance(node, ast.Constant) and node.value is None:
            checks.append(f"{prefix}assert {call} is None")
            continue
        scalar = _float_literal(node)
        if scalar is not None and scalar == scalar and abs(scalar) != float("inf"):
            tol = _tolerance([scalar])
            if isinstance(node, ast.UnaryOp):
                expected = f"({e.expected})"
            checks.append(f"{prefix}assert abs((_v := {e.call}) - {expected}) < {tol}, "
                          f"f'expected {e.expected}, got {{_v!r}}'")
            continue
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts and all(
                _number_literal(x) for x in node.elts) and any(
                _float_literal(x) is not None for x in node.elts):
            floats = [v for v in (_float_literal(x) for x in node.elts) if v is not None]
            if all(v == v and abs(v) != float("inf") for v in floats):
                kind = "list" if isinstance(node, ast.List) else "tuple"
                tol = _tolerance(floats)
                checks.append(
                    f"{prefix}assert isinstance(_v := {e.call}, {kind}) and len(_v) == "
                    f"{len(node.elts)} and all(abs(_a - _b) < {tol} for _a, _b in "
                    f"zip(_v, {e.expected})), f'expected {e.expected}, got {{_v!r}}'")
                continue
        checks.append(f"{prefix}assert {call} == {expected}")
    return checks
