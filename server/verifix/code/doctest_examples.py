"""Doctests in a docstring (`>>> call` and its expected output, setup statements, expected
exceptions), read with the stdlib's doctest.DocTestParser."""

from __future__ import annotations

import ast
import doctest
import re
import textwrap

from verifix.code.example_values import (
    WORD_VALUES,
    Example,
    calls_to,
    expected_node,
    has_ellipsis,
    parse_expr,
    value_ok,
)
from verifix.code.parsing import byte_col_to_codepoint


def _doctest_items(doc: str) -> list[doctest.Example]:
    parser = doctest.DocTestParser()
    try:
        return parser.get_examples(doc)
    except ValueError:
        pass
    # one malformed example must not hide the others: parse each ">>>" chunk on its own
    lines = doc.split("\n")
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith(">>>")]
    items: list[doctest.Example] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        chunk = "\n".join(lines[start:end])
        try:
            found = parser.get_examples(chunk)
        except ValueError:
            continue
        for ex in found:
            ex.lineno += start
            items.append(ex)
    return items


def _exception_name(exc_msg: str) -> str | None:
    """"ValueError: bad input" -> "ValueError"; "pkg.mod.Error: x" -> "Error"."""
    m = re.match(r"^([A-Za-z_][\w.]*)\s*(?::|$)", exc_msg.strip())
    return m.group(1).split(".")[-1] if m else None


def doctest_examples(doc: str, name: str) -> tuple[list[Example], set[int]]:
    """The doctests that call `name`, and the docstring lines doctests take up (the other forms
    must not read them again). Other statements are setup for the calls after them."""
    examples: list[Example] = []
    used_lines: set[int] = set()
    setup: list[str] = []
    for ex in _doctest_items(doc):
        n_lines = ex.source.count("\n") + ex.want.count("\n")
        used_lines.update(range(ex.lineno, ex.lineno + max(1, n_lines)))
        if ex.options.get(doctest.SKIP):
            continue
        try:
            tree = ast.parse(ex.source)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            setup.append(ex.source.rstrip("\n"))
            continue
        expr = tree.body[0].value
        if not calls_to(expr, name, methods=True):
            continue
        want = textwrap.dedent(ex.want).strip()
        ellipsis = bool(ex.options.get(doctest.ELLIPSIS))
        call: ast.expr | None = None
        expected: ast.expr | None = None
        raises = None
        if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(
                expr.ops[0], ast.Eq) and calls_to(expr.left, name, methods=True):
            # ">>> f(x) == y" (with "True" or, sloppily, nothing as its output)
            if ex.exc_msg is not None or want not in ("", "True"):
                continue
            call, expected = expr.left, expr.comparators[0]
            if not value_ok(expected):
                continue
        elif (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
              and expr.func.id == "print" and len(expr.args) == 1 and not expr.keywords):
            call = expr.args[0]
            node = _want_node(want, ellipsis)
            if node is not None and not (isinstance(node, ast.Constant)
                                         and isinstance(node.value, str)):
                expected = node  # str() and repr() agree for everything but strings
        else:
            call = expr
            if ex.exc_msg is not None:
                raises = _exception_name(ex.exc_msg)
                if raises is None:
                    continue
            elif want == "":
                loose = _loose_value(ex.source, expr, name)
                if loose is not None:
                    call, expected = loose
                else:
                    expected = ast.Constant(None)  # doctest: no output means None
            else:
                expected = _want_node(want, ellipsis)
        if call is None or not calls_to(call, name, methods=True) or has_ellipsis(call):
            continue
        # A doctest runs in the module's globals (as the checks do): names it uses beyond its
        # own setup are the module's. Free-text examples get no such trust.
        examples.append(Example(
            call=ast.unparse(call), expected=None if expected is None else ast.unparse(expected),
            kind="doctest", source_line=ex.lineno, setup=list(setup), raises=raises))
    return examples, used_lines


def _want_node(want: str, ellipsis: bool) -> ast.expr | None:
    if not want or "<BLANKLINE>" in want or (ellipsis and "..." in want):
        return None
    node = parse_expr(want)
    if node is None:
        return None
    if isinstance(node, ast.Name) and node.id.lower() in WORD_VALUES:
        return None  # a printed word, not a Python value
    return node if value_ok(node) else None


def _loose_value(source: str, expr: ast.expr, name: str) -> tuple[ast.expr, ast.expr] | None:
    """">>> f(x) [1, 2]" with no output: a call followed by its result on the same line."""
    if not isinstance(expr, ast.Subscript):
        return None
    inner = expr.value
    if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
            and inner.func.id == name and inner.end_lineno == 1):
        return None
    line = source.split("\n")[0]
    end = byte_col_to_codepoint(line, inner.end_col_offset or 0)
    rest = line[end:]
    if not rest[:1].isspace():
        return None
    value = expected_node(rest.strip())
    if value is None or not isinstance(value, (ast.List, ast.Tuple, ast.Dict, ast.Set,
                                                ast.Constant)):
        return None
    return inner, value

