"""The tree-sitter Python grammar and one parser per thread (parsers are not thread-safe)."""

from __future__ import annotations

import threading

import tree_sitter
import tree_sitter_python

LANGUAGE = tree_sitter.Language(tree_sitter_python.language())
_local = threading.local()


def parser() -> tree_sitter.Parser:
    p = getattr(_local, "parser", None)
    if p is None:
        p = _local.parser = tree_sitter.Parser(LANGUAGE)
    return p


def parse_bytes(data: bytes) -> tree_sitter.Tree:
    return parser().parse(data)


def walk(node: tree_sitter.Node):
    """Every node under `node` (itself included), depth first, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))
