"""A key under which two implementations are the same when only their local names, docstrings,
comments or formatting differ: renamed copies are one opinion, not two independent ones."""

from __future__ import annotations

import ast


def _drop_docstring(node: ast.AST) -> None:
    body = getattr(node, "body", None)
    if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
            and body and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
        node.body = body[1:] or [ast.Pass()]


def logic_key(code: str) -> str:
    """ast.dump of `code` with docstrings dropped and every parameter and assigned name
    renamed in order of first appearance; module names, attributes and called globals stay,
    so `sorted` and `max` are still different logic. Unparseable code keys as itself."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        _drop_docstring(node)
        if isinstance(node, ast.arg):
            names.setdefault(node.arg, f"_{len(names)}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.setdefault(node.id, f"_{len(names)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.arg in names:
            node.arg = names[node.arg]
        elif isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
    return ast.dump(tree, annotate_fields=False)
