"""Re-indenting Python code without changing what its strings contain."""

from __future__ import annotations

import ast
import io
import tokenize


def string_lines(code: str) -> tuple[set[int], set[int]]:
    """0-based lines of `code` that lie inside a multi-line string token (not its first line):
    (all such lines, those of docstrings). Lines of code that does not tokenize are left out."""
    inside: set[int] = set()
    docs: set[int] = set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return inside, docs
    open_fstring: list[tuple[int, int]] = []
    spans: list[tuple[int, int]] = []
    for tok in tokens:
        name = tokenize.tok_name.get(tok.type, "")
        if name == "STRING" and tok.end[0] > tok.start[0]:
            spans.append((tok.start[0], tok.end[0]))
        elif name == "FSTRING_START":
            open_fstring.append(tok.start)
        elif name == "FSTRING_END" and open_fstring:
            begin = open_fstring.pop()
            if tok.end[0] > begin[0] and not open_fstring:
                spans.append((begin[0], tok.end[0]))
    doc_starts: set[int] = set()
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                         ast.Constant):
                    if isinstance(body[0].value.value, str):
                        doc_starts.add(body[0].lineno)
    for first, last in spans:
        lines = set(range(first, last))  # 1-based first+1..last -> 0-based first..last-1
        inside |= lines
        if first in doc_starts:
            docs |= lines
    return inside, docs


def reindent(code: str, prefix: str) -> str:
    """Move `code` (any uniform indentation) to `prefix`. Lines inside multi-line strings keep
    their bytes (their content would change), except docstrings, which move with the code."""
    lines = code.split("\n")
    base = None
    for line in lines:
        if line.strip():
            base = line[: len(line) - len(line.lstrip(" \t"))]
            break
    if base is None:
        return ""
    probe = code if not base else "if 1:\n" + code
    inside, docs = string_lines(probe)
    if base:
        inside = {i - 1 for i in inside}
        docs = {i - 1 for i in docs}
    out = []
    for i, line in enumerate(lines):
        if i in inside and i not in docs:
            out.append(line)
            continue
        if not line.strip():
            out.append("" if i not in inside else line)
            continue
        if line.startswith(base):
            out.append(prefix + line[len(base):])
        elif i in docs:
            out.append(line)  # a docstring line left of the code: keep it where it is
        else:
            out.append(prefix + line.lstrip(" \t"))
    return "\n".join(out)
