"""An example found in a docstring, and the checks on its parts that every form shares: a call
that names nothing unknown, an expected value that is a self-contained Python expression."""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field


@dataclass
class Example:
    """One example: a call of the function and what it should give (a value or an exception)."""

    call: str  # a Python expression that calls the function
    expected: str | None  # a Python expression for the expected value; None if unknown
    kind: str  # "doctest" | "example"
    source_line: int  # 0-based line in the docstring where the example starts
    setup: list[str] = field(default_factory=list)  # doctest statements the call needs first
    raises: str | None = None  # the exception the doctest expects (its class name)

    @property
    def is_check(self) -> bool:
        return self.expected is not None or self.raises is not None


BUILTIN_NAMES = frozenset(dir(builtins))
_CONSTRUCTORS = frozenset({"float", "int", "str", "bool", "set", "frozenset", "tuple", "list",
                           "dict", "bytes", "complex", "range"})
MAX_TEXT = 4000  # longest call or value considered
# words that prose writes for a value
WORD_VALUES = {"true": True, "false": False, "none": None, "null": None}


def parse_expr(text: str) -> ast.expr | None:
    """`text` as one Python expression, or None (also when it is longer than MAX_TEXT)."""
    if not text.strip() or len(text) > MAX_TEXT:
        return None
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def value_ok(node: ast.AST, depth: int = 0) -> bool:
    """A self-contained value: literals, containers, arithmetic on numbers, a few constructors."""
    if depth > 60:
        return False
    if isinstance(node, ast.Constant):
        return node.value is not Ellipsis
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(value_ok(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and value_ok(k, depth + 1) for k in node.keys) and all(
            value_ok(v, depth + 1) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.USub, ast.UAdd, ast.Not, ast.Invert)) and value_ok(
            node.operand, depth + 1)
    if isinstance(node, ast.BinOp):
        if not (value_ok(node.left, depth + 1) and value_ok(node.right, depth + 1)):
            return False
        if isinstance(node.op, ast.Pow):
            exp = node.right
            return isinstance(exp, ast.Constant) and isinstance(exp.value, (int, float)) \
                and abs(exp.value) <= 1000
        if isinstance(node.op, ast.Mult):
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, (ast.List, ast.Tuple)) or (
                        isinstance(a, ast.Constant) and isinstance(a.value, (str, bytes))):
                    return isinstance(b, ast.Constant) and isinstance(b.value, int) \
                        and b.value <= 100_000
        return True
    if isinstance(node, ast.Call):
        return (isinstance(node.func, ast.Name) and node.func.id in _CONSTRUCTORS
                and not node.keywords and len(node.args) <= 2
                and all(value_ok(a, depth + 1) for a in node.args))
    return False


def _free_names(node: ast.AST) -> set[str]:
    """Names an expression reads that it does not bind itself (lambdas, comprehensions)."""
    free: set[str] = set()

    def visit(n: ast.AST, bound: frozenset[str]) -> None:
        if isinstance(n, ast.Name):
            if n.id not in bound:
                free.add(n.id)
            return
        if isinstance(n, ast.Lambda):
            a = n.args
            names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
            names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
            for d in list(a.defaults) + [d for d in a.kw_defaults if d is not None]:
                visit(d, bound)
            visit(n.body, bound | names)
            return
        if isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = bound
            for gen in n.generators:
                visit(gen.iter, inner)
                inner = inner | {t.id for t in ast.walk(gen.target) if isinstance(t, ast.Name)}
                for cond in gen.ifs:
                    visit(cond, inner)
            if isinstance(n, ast.DictComp):
                visit(n.key, inner)
                visit(n.value, inner)
            else:
                visit(n.elt, inner)
            return
        for child in ast.iter_child_nodes(n):
            visit(child, bound)

    visit(node, frozenset())
    return free


def has_ellipsis(node: ast.AST) -> bool:
    """Whether `...` stands somewhere in `node` (an elided, so unknown, part)."""
    return any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(node))


def calls_to(node: ast.AST, name: str, methods: bool) -> list[ast.Call]:
    """The calls of `name` in `node`; with `methods`, `obj.name(...)` too."""
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            if (isinstance(f, ast.Name) and f.id == name) or (
                    methods and isinstance(f, ast.Attribute) and f.attr == name):
                out.append(n)
    return out


def call_ok(node: ast.expr, name: str) -> bool:
    """An argument or call that reads no names but builtins and `name`, and has no `...`."""
    if has_ellipsis(node):
        return False
    return _free_names(node) <= (BUILTIN_NAMES | {name})


def expected_node(text: str) -> ast.expr | None:
    """The expected value written in `text` ("true" and "null" as prose writes them), or None."""
    node = parse_expr(text)
    if node is None:
        return None
    if isinstance(node, ast.Name) and node.id.lower() in WORD_VALUES:
        return ast.Constant(WORD_VALUES[node.id.lower()])
    if value_ok(node):
        return node
    return None
