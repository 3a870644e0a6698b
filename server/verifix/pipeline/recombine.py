"""Test inputs from the docstring's own examples, recombined: values the author already showed
are in the function's domain, and new combinations of them cost no tokens.

Used when the model proposes too few new inputs (a small model tends to copy the docstring's
examples back), so that candidates can still be compared beyond the examples themselves.
"""

from __future__ import annotations

import ast
import itertools


def _plain_call(text: str) -> ast.Call | None:
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or node.keywords or any(
            isinstance(a, ast.Starred) for a in node.args):
        return None
    return node


def _joined(a: ast.expr, b: ast.expr) -> ast.expr | None:
    """Two example values of one parameter, concatenated: a longer value of the same kind."""
    if isinstance(a, ast.List) and isinstance(b, ast.List):
        return ast.List(elts=a.elts + b.elts, ctx=ast.Load())
    if (isinstance(a, ast.Constant) and isinstance(b, ast.Constant)
            and isinstance(a.value, str) and isinstance(b.value, str)):
        return ast.Constant(a.value + b.value)
    return None


def recombined_inputs(calls: list[str], limit: int = 4) -> list[str]:
    """New calls built from the example calls' arguments: the first argument of one example
    with the other arguments of another, and lists or strings of two examples joined.
    Deterministic; never one of `calls`."""
    parsed = [c for c in (_plain_call(t) for t in calls) if c is not None]
    if not parsed:
        return []
    func, arity = parsed[0].func, len(parsed[0].args)
    same = [c for c in parsed if len(c.args) == arity and ast.dump(c.func) == ast.dump(func)]
    if arity == 0:
        return []
    seen = {ast.unparse(c) for c in parsed}
    out: list[str] = []

    def add(args: list[ast.expr]) -> None:
        text = ast.unparse(ast.Call(func=func, args=args, keywords=[]))
        if text not in seen:
            seen.add(text)
            out.append(text)

    crossed: list[list[ast.expr]] = []
    if arity >= 2:
        for a, b in itertools.permutations(same, 2):
            crossed.append([a.args[0], *b.args[1:]])
    joined: list[list[ast.expr]] = []
    for a, b in itertools.combinations(same, 2):
        for k in range(arity):
            value = _joined(a.args[k], b.args[k])
            if value is not None:
                joined.append([*a.args[:k], value, *a.args[k + 1:]])
    # Alternate the two kinds so a small limit still gets both.
    for pair in itertools.zip_longest(crossed, joined):
        for args in pair:
            if args is not None:
                add(args)
    return out[:limit]
