"""Examples written in docstrings, every form, and the checks made from them for the sandbox
(the cheapest trusted evidence)."""

from __future__ import annotations

from verifix.code.doctest_examples import doctest_examples
from verifix.code.example_values import Example, parse_expr
from verifix.code.prose_examples import prose_examples
from verifix.sandbox.checks import Check, self_contained

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


def example_checks(examples: list[Example]) -> list[Check]:
    """One check per example with an expected value or exception; doctest setup lines come
    first. The host compares the call's value with the expected one type by type, as a doctest
    reader would; a prose example ("returns 5") lets 5 stand for 5.0."""
    checks: list[Check] = []
    for e in examples:
        if parse_expr(e.call) is None:
            continue
        setup = "".join(s.rstrip("\n") + "\n" for s in e.setup)
        if e.raises is not None:
            checks.append(Check(e.call, "raises", setup=setup, raises=e.raises))
            continue
        node = None if e.expected is None else parse_expr(e.expected)
        if node is None or not self_contained(node):
            continue
        checks.append(Check(e.call, "equal", expected=e.expected, setup=setup,
                            numbers_by_value=e.kind != "doctest"))
    return checks
