"""Editing source text: replacing one function's definition (splice) and adding imports; every
other byte stays as it was."""

from __future__ import annotations

import ast
import re
import textwrap

import tree_sitter

from verifix.code.functions import FunctionInfo, find_function
from verifix.code.parsing import ParsedModule, byte_col_to_codepoint, parse
from verifix.code.reindent import reindent, string_lines
from verifix.code.replies import extract_function

# --- splicing ------------------------------------------------------------------------------------


def _dedent_code(code: str) -> str:
    lines = code.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return reindent("\n".join(lines).rstrip(), "")


def _target_def(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for node in reversed(defs):
        if node.name == name:
            return node
    if len(defs) == 1:
        return defs[0]
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef):
            for sub in cls.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name == name:
                    return sub
    return defs[-1] if defs else None


def _new_function_text(fn: FunctionInfo, original_doc: str | None, new_code: str,
                       keep_docstring: bool) -> tuple[str, bool]:
    """The new definition at column 0 (docstring inserted if wanted); whether it has decorators."""
    code = _dedent_code(new_code)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        extracted = extract_function(new_code, fn.name)  # fenced, or with prose around it
        if extracted is None:
            first = next((line for line in code.split("\n") if line.strip()), "")
            return code, first.lstrip().startswith("@")
        code = _dedent_code(extracted.function)
        tree = ast.parse(code)
    node = _target_def(tree, fn.name)
    if node is None:
        return code, False
    lines = code.split("\n")
    first_line = (node.decorator_list[0].lineno - 1) if node.decorator_list else node.lineno - 1
    # the "@" of the first decorator is on the line above its expression's start
    if node.decorator_list:
        while first_line > 0 and not lines[first_line].lstrip().startswith("@"):
            first_line -= 1
    last_line = (node.end_lineno or node.lineno) - 1
    def_line = lines[node.lineno - 1]
    def_indent = len(def_line) - len(def_line.lstrip())
    end = last_line
    for i in range(last_line + 1, len(lines)):  # comments at the end of the body belong to it
        stripped = lines[i].lstrip()
        if not stripped:
            continue
        if stripped.startswith("#") and len(lines[i]) - len(stripped) > def_indent:
            end = i
            continue
        break
    last_line = end
    piece = "\n".join(lines[first_line:last_line + 1])
    piece = reindent(piece, "")
    has_decorators = bool(node.decorator_list)
    if keep_docstring and original_doc is not None and not _has_docstring(node):
        # a placeholder statement now, the docstring's own text after re-indenting (its
        # continuation lines keep their bytes, so its value does not change)
        piece = _insert_docstring(piece, fn.name, _DOC_PLACEHOLDER)
    return piece, has_decorators


_DOC_PLACEHOLDER = "__verifix_original_docstring__"


def _has_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for stmt in node.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and \
            isinstance(stmt.value.value, str)
    return False


def _insert_docstring(code: str, name: str, doc_text: str) -> str:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return code
    node = _target_def(tree, name)
    if node is None or not node.body:
        return code
    lines = code.split("\n")
    stmt = node.body[0]
    header_last = stmt.lineno - 1
    line = lines[header_last]
    # is the statement on the header line itself (`def f(x): return x`)?
    prefix_src = line[: byte_col_to_codepoint(line, stmt.col_offset)]
    if prefix_src.strip():
        def_line = lines[node.lineno - 1]
        base = def_line[: len(def_line) - len(def_line.lstrip())]
        body_indent = base + "    "
        rest = line[byte_col_to_codepoint(line, stmt.col_offset):]
        lines[header_last] = prefix_src.rstrip()
        lines.insert(header_last + 1, body_indent + doc_text)
        lines.insert(header_last + 2, body_indent + rest)
        return "\n".join(lines)
    body_indent = line[: len(line) - len(line.lstrip())]
    lines.insert(header_last, body_indent + doc_text)
    return "\n".join(lines)


def _parses(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _as_sliced_text(code: str, indent: str) -> str:
    """Text sliced out of a file the way `FunctionInfo.text` is (first line bare, the rest still
    at the file's indentation), given back its first line's indentation."""
    lines = code.replace("\r\n", "\n").lstrip("\n").split("\n")
    if not lines or lines[0][:1] in (" ", "\t"):
        return code
    text = "\n".join(lines)
    inside, _docs = string_lines(indent + text)
    rest = [line for i, line in enumerate(lines) if i and line.strip() and i not in inside]
    if not rest or not all(line.startswith(indent) for line in rest):
        return code
    if _parses("if 1:\n" + indent + text) is None:
        return code
    as_is = _parses(text)
    if as_is is None:
        return indent + text  # e.g. "@decorator\n    def m(self):\n        ..."
    defs = [n for n in as_is.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if len(defs) == 1 and defs[0].body and \
            defs[0].body[0].col_offset > len(indent.encode("utf-8")):
        return indent + text  # the body sits deeper than a column-0 definition would put it
    return code


def splice(source: str, fn: FunctionInfo, new_function_code: str,
           keep_docstring: bool = True) -> str:
    """`source` with only `fn`'s definition replaced by `new_function_code`, re-indented to
    `fn.indent`. The original decorators stay when the new code has none; the original docstring
    stays when `keep_docstring` and the new code has none. Every other byte is unchanged.

    If `fn` no longer matches the source (the text moved), it is looked up again by qualname;
    a ValueError says when that fails.
    """
    mod = parse(source)
    data = mod.data
    if data[fn.start_byte:fn.end_byte].decode("utf-8", "replace") != fn.text:
        found = find_function(mod, fn.qualname)
        if found is None or found.text != fn.text:
            raise ValueError(f"{fn.qualname} is no longer where it was in the source")
        fn = found
    if new_function_code.strip("\n").rstrip() == fn.text:
        return source  # nothing to change
    original_doc = None
    if fn.docstring_start_byte is not None and fn.docstring_end_byte is not None:
        original_doc = data[fn.docstring_start_byte:fn.docstring_end_byte].decode("utf-8")
    if fn.indent:
        new_function_code = _as_sliced_text(new_function_code, fn.indent)
    new_text, has_decorators = _new_function_text(fn, original_doc, new_function_code,
                                                  keep_docstring)
    new_text = reindent(new_text, fn.indent)
    new_text = new_text[len(fn.indent):] if new_text.startswith(fn.indent) else new_text.lstrip()
    if original_doc is not None:
        new_text = new_text.replace(_DOC_PLACEHOLDER, original_doc, 1)
    if not has_decorators and fn.def_start_byte > fn.start_byte:
        new_text = data[fn.start_byte:fn.def_start_byte].decode("utf-8") + new_text
    return (data[:fn.start_byte] + new_text.encode("utf-8") + data[fn.end_byte:]).decode("utf-8")


# --- imports -------------------------------------------------------------------------------------


def _import_bindings(stmt: ast.stmt) -> set[tuple[str, str, str]]:
    """(module, name, bound-as) for each name an import statement binds."""
    out: set[tuple[str, str, str]] = set()
    if isinstance(stmt, ast.Import):
        for a in stmt.names:
            out.add((a.name, "", a.asname or a.name))
    elif isinstance(stmt, ast.ImportFrom):
        module = "." * (stmt.level or 0) + (stmt.module or "")
        for a in stmt.names:
            out.add((module, a.name, a.asname or a.name))
    return out


def _top_level_imports(mod: ParsedModule) -> list[tree_sitter.Node]:
    return [c for c in mod.root.children
            if c.type in ("import_statement", "import_from_statement", "future_import_statement")]


def add_imports(source: str, imports: list[str]) -> str:
    """Add the import statements (e.g. "import math", "from typing import List") that `source`
    does not already have, after its leading imports block (or after the module docstring).
    Names already imported are skipped; `from __future__` imports are never added."""
    mod = parse(source)
    existing: set[tuple[str, str, str]] = set()
    star_modules: set[str] = set()
    for node in _top_level_imports(mod):
        try:
            stmt = ast.parse(mod.text(node)).body[0]
        except (SyntaxError, ValueError, IndexError):
            continue
        existing |= _import_bindings(stmt)
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            star_modules.add("." * (stmt.level or 0) + (stmt.module or ""))
    new_lines: list[str] = []
    for text in imports:
        try:
            body = ast.parse(textwrap.dedent(text).strip()).body
        except (SyntaxError, ValueError):
            continue
        for stmt in body:
            if isinstance(stmt, ast.Import):
                missing = [a for a in stmt.names
                           if not (_import_bindings(ast.Import(names=[a])) <= existing)]
                if missing:
                    stmt = ast.Import(names=missing)
                    new_lines.append(ast.unparse(stmt))
                    existing |= _import_bindings(stmt)
            elif isinstance(stmt, ast.ImportFrom):
                if stmt.module == "__future__":
                    continue
                module = "." * (stmt.level or 0) + (stmt.module or "")
                if module in star_modules:
                    continue
                missing_from = [a for a in stmt.names
                                if (module, a.name, a.asname or a.name) not in existing]
                if missing_from:
                    stmt = ast.ImportFrom(module=stmt.module, names=missing_from,
                                          level=stmt.level)
                    new_lines.append(ast.unparse(stmt))
                    existing |= _import_bindings(stmt)
    if not new_lines:
        return source
    block = "\n".join(new_lines) + "\n"
    data = mod.data
    last_import = None
    docstring_end = None
    for child in mod.root.children:
        if child.type in ("import_statement", "import_from_statement", "future_import_statement"):
            last_import = child
            continue
        if child.type == "comment":
            continue
        if (child.type == "expression_statement" and last_import is None and docstring_end is None
                and child.named_child_count == 1
                and child.named_children[0].type in ("string", "concatenated_string")):
            docstring_end = child.end_byte
            continue
        break
    if last_import is not None:
        at = _next_line_start(data, last_import.end_byte)
        prefix = b"" if at > 0 and data[at - 1:at] == b"\n" else b"\n"
        return (data[:at] + prefix + block.encode() + data[at:]).decode("utf-8")
    if docstring_end is not None:
        at = _next_line_start(data, docstring_end)
        prefix = b"" if at > 0 and data[at - 1:at] == b"\n" else b"\n"
        rest = data[at:]
        sep = b"\n" if rest.strip() and not rest.startswith(b"\n") else b""
        return (data[:at] + prefix + b"\n" + block.encode() + sep + rest).decode("utf-8")
    at = 0
    for line in range(len(mod.line_starts)):  # keep a shebang / encoding comment on top
        head = data[mod.line_starts[line]:mod.line_end(line)]
        if head.startswith(b"#!") or re.match(rb"^#.*coding[:=]", head):
            at = _next_line_start(data, mod.line_starts[line])
        else:
            break
    rest = data[at:]
    sep = b"\n" if rest.strip() and not rest.startswith(b"\n") else b""
    return (data[:at] + block.encode() + sep + rest).decode("utf-8")


def _next_line_start(data: bytes, offset: int) -> int:
    i = data.find(b"\n", offset)
    return len(data) if i == -1 else i + 1
