"""Python source through tree-sitter: functions, positions, splicing, module context, tests.

verifix's bottom layer: it imports nothing from the rest of verifix. All byte offsets are UTF-8
offsets into the source; lines are 0-based. The position conversions between UTF-8 bytes,
code points and UTF-16 code units live in this module only.
"""

from __future__ import annotations

import ast
import bisect
import functools
import inspect
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path

import tree_sitter

from verifix.code import _ts
from verifix.code._source import reindent as _reindent
from verifix.code._source import string_lines as _string_lines
from verifix.code.examples import Example, docstring_examples, example_checks
from verifix.code.replies import ExtractedCode, extract_expressions, extract_function

__all__ = [
    "Example",
    "ExtractedCode",
    "FunctionInfo",
    "ParsedModule",
    "TestRef",
    "add_imports",
    "byte_col_to_codepoint",
    "byte_col_to_utf16",
    "called_functions",
    "codepoint_col_to_byte",
    "docstring_examples",
    "example_checks",
    "extract_expressions",
    "extract_function",
    "find_function",
    "find_tests",
    "function_at",
    "function_examples",
    "list_functions",
    "module_context",
    "offset_of",
    "parse",
    "position_of",
    "resolve_import",
    "splice",
    "utf16_col_to_byte",
]


# --- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ParsedModule:
    """A parsed source: the tree-sitter tree plus the UTF-8 bytes its offsets refer to."""

    source: str
    data: bytes
    tree: tree_sitter.Tree
    line_starts: tuple[int, ...]  # byte offset of each line's first byte

    @property
    def root(self) -> tree_sitter.Node:
        return self.tree.root_node

    @property
    def has_error(self) -> bool:
        return self.tree.root_node.has_error

    def text(self, start: int | tree_sitter.Node, end: int | None = None) -> str:
        if isinstance(start, tree_sitter.Node):
            return self.data[start.start_byte:start.end_byte].decode("utf-8", errors="replace")
        return self.data[start:end].decode("utf-8", errors="replace")

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset) - 1

    def line_start(self, line: int) -> int:
        line = max(0, min(line, len(self.line_starts) - 1))
        return self.line_starts[line]

    def line_end(self, line: int) -> int:
        """Offset of the line's end, before its newline."""
        if line + 1 < len(self.line_starts):
            return self.line_starts[line + 1] - 1
        return len(self.data)


Source = str | ParsedModule


def _line_starts(data: bytes) -> tuple[int, ...]:
    starts = [0]
    i = data.find(b"\n")
    while i != -1:
        starts.append(i + 1)
        i = data.find(b"\n", i + 1)
    return tuple(starts)


@functools.lru_cache(maxsize=32)
def _parse_cached(source: str) -> ParsedModule:
    data = source.encode("utf-8", errors="surrogatepass")
    return ParsedModule(source, data, _ts.parse_bytes(data), _line_starts(data))


def parse(source: Source | bytes) -> ParsedModule:
    """Parse Python source (str or UTF-8 bytes); a ParsedModule is returned as is."""
    if isinstance(source, ParsedModule):
        return source
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    return _parse_cached(source)


# --- positions: UTF-8 bytes, code points, UTF-16 units -------------------------------------------


def _line_bytes(line_text: str | bytes) -> bytes:
    return line_text if isinstance(line_text, bytes) else line_text.encode("utf-8", "surrogatepass")


def _line_str(line_text: str | bytes) -> str:
    return line_text.decode("utf-8", "replace") if isinstance(line_text, bytes) else line_text


def utf16_col_to_byte(line_text: str | bytes, col: int) -> int:
    """UTF-16 column (LSP default) -> UTF-8 byte column. Past the end clamps to the line's end;
    a column inside a surrogate pair rounds down to the character's start."""
    units = 0
    offset = 0
    for ch in _line_str(line_text):
        width = 2 if ord(ch) > 0xFFFF else 1
        if units + width > col:
            return offset
        units += width
        offset += len(ch.encode("utf-8", "surrogatepass"))
    return offset


def byte_col_to_utf16(line_text: str | bytes, col: int) -> int:
    """UTF-8 byte column -> UTF-16 column; a byte inside a character rounds down to its start."""
    prefix = _line_bytes(line_text)[: max(0, col)].decode("utf-8", errors="ignore")
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in prefix)


def codepoint_col_to_byte(line_text: str | bytes, col: int) -> int:
    """Code point column (LSP "utf-32") -> UTF-8 byte column, clamped to the line's end."""
    text = _line_str(line_text)
    return len(text[: max(0, col)].encode("utf-8", "surrogatepass"))


def byte_col_to_codepoint(line_text: str | bytes, col: int) -> int:
    """UTF-8 byte column -> code point column; a byte inside a character rounds down."""
    return len(_line_bytes(line_text)[: max(0, col)].decode("utf-8", errors="ignore"))


def offset_of(source: Source, line: int, byte_col: int) -> int:
    """Byte offset of (0-based line, UTF-8 byte column); both clamp to the text (a column past the
    end of a line means its end, before the newline; a line past the end means the end)."""
    mod = parse(source)
    if line < 0:
        return 0
    if line >= len(mod.line_starts):
        return len(mod.data)
    start = mod.line_starts[line]
    return start + max(0, min(byte_col, mod.line_end(line) - start))


def position_of(source: Source, byte_offset: int) -> tuple[int, int]:
    """(0-based line, UTF-8 byte column) of a byte offset (clamped to the text)."""
    mod = parse(source)
    byte_offset = max(0, min(byte_offset, len(mod.data)))
    line = mod.line_of(byte_offset)
    return line, byte_offset - mod.line_starts[line]


# --- functions ----------------------------------------------------------------------------------


@dataclass
class FunctionInfo:
    """One function definition. Byte offsets are UTF-8 offsets into the source; lines are 0-based.

    `start_byte`..`end_byte` cover the whole definition including its decorators (from the first
    decorator's `@`, i.e. after the line's indentation, to the end of the last statement); `text`
    is exactly that slice.
    """

    name: str
    qualname: str  # "Class.method", "outer.inner"
    class_name: str | None  # the class it is directly defined in
    is_async: bool
    decorators: list[str]  # decorator expressions without the "@"
    start_byte: int
    end_byte: int
    start_line: int
    end_line: int  # inclusive
    def_line: int
    def_start_byte: int  # the `def` (or `async`) keyword
    indent: str  # the indentation of the `def` line
    signature: str  # "def f(x: int) -> int:" (may span lines)
    params: list[str]  # names; "*args", "**kwargs" keep their stars; "*" and "/" are left out
    docstring: str | None  # its value, cleaned with inspect.cleandoc
    docstring_start_byte: int | None
    docstring_end_byte: int | None
    body_start_byte: int  # first byte after the header's ":" that is not white space
    body_end_byte: int
    text: str
    is_stub: bool
    is_test: bool
    has_error: bool = False  # tree-sitter found a syntax error inside the definition
    scopes: list[tuple[str, str]] = field(default_factory=list)  # enclosing ("class"|"def", name)

    @property
    def is_method(self) -> bool:
        return self.class_name is not None

    @property
    def positional_params(self) -> list[str]:
        """Parameters a call can pass by position (no `self`/`cls` of a method, no * / **)."""
        names = [p for p in self.params if not p.startswith("*")]
        if self.class_name is not None and names and names[0] in ("self", "cls"):
            names = names[1:]
        return names


_DEF_TYPES = ("function_definition",)
_STUB_RAISES = ("NotImplementedError",)


def _docstring_node(block: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The docstring's string node: the body's first statement, or (as HumanEval/115 writes
    it) the first one after leading import statements."""
    if block is None:
        return None
    for child in block.named_children:
        if child.type in ("comment", "import_statement", "import_from_statement"):
            continue
        if child.type == "expression_statement" and child.named_child_count == 1:
            value = child.named_children[0]
            if value.type in ("string", "concatenated_string"):
                return value
        return None
    return None


def _string_value(text: str) -> str | None:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _is_stub_statement(mod: ParsedModule, node: tree_sitter.Node) -> bool:
    if node.type == "pass_statement":
        return True
    if node.type == "expression_statement" and node.named_child_count == 1:
        return node.named_children[0].type == "ellipsis"
    if node.type == "raise_statement":
        exc = node.named_children[0] if node.named_child_count else None
        if exc is not None and exc.type == "call":
            exc = exc.child_by_field_name("function")
        return exc is not None and mod.text(exc) in _STUB_RAISES
    return False


def _param_name(mod: ParsedModule, p: tree_sitter.Node) -> str | None:
    t = p.type
    if t == "identifier":
        return mod.text(p)
    if t == "typed_parameter":
        return _param_name(mod, p.named_children[0]) if p.named_child_count else None
    if t in ("default_parameter", "typed_default_parameter"):
        name = p.child_by_field_name("name")
        return _param_name(mod, name) if name is not None else None
    if t == "list_splat_pattern":
        return "*" + mod.text(p).lstrip("*").strip()
    if t == "dictionary_splat_pattern":
        return "**" + mod.text(p).lstrip("*").strip()
    return None  # "*", "/", comments, errors


def _params(mod: ParsedModule, params: tree_sitter.Node | None) -> list[str]:
    if params is None:
        return []
    return [n for n in (_param_name(mod, p) for p in params.named_children) if n]


def _build_info(mod: ParsedModule, fn: tree_sitter.Node, outer: tree_sitter.Node,
                scopes: list[tuple[str, str]]) -> FunctionInfo | None:
    name_node = fn.child_by_field_name("name")
    if name_node is None:
        return None
    name = mod.text(name_node)
    qualname = ".".join([s[1] for s in scopes] + [name])
    class_name = scopes[-1][1] if scopes and scopes[-1][0] == "class" else None
    is_async = bool(fn.children) and fn.children[0].type == "async"
    decorators = [mod.text(d).strip()[1:].strip() for d in outer.children if d.type == "decorator"]
    start, end = outer.start_byte, fn.end_byte
    line_start = mod.line_starts[mod.line_of(start)]
    prefix = mod.data[line_start:start].decode("utf-8", "replace")
    indent = prefix[: len(prefix) - len(prefix.lstrip(" \t\f"))]
    colon = None
    for child in fn.children:
        if child.type == ":":
            colon = child
        if child.type == "block":
            break
    body = fn.child_by_field_name("body")
    header_end = colon.end_byte if colon is not None else (
        body.start_byte if body is not None else fn.end_byte)
    signature = mod.text(fn.start_byte, header_end).rstrip()
    body_start = header_end
    while body_start < end and mod.data[body_start:body_start + 1] in (b" ", b"\t", b"\n", b"\r",
                                                                       b"\\", b"\f"):
        body_start += 1
    body_start = min(body_start, end)
    doc_node = _docstring_node(body)
    docstring = None
    doc_range: tuple[int | None, int | None] = (None, None)
    if doc_node is not None:
        value = _string_value(mod.text(doc_node))
        if value is not None:
            docstring = inspect.cleandoc(value)
            doc_range = (doc_node.start_byte, doc_node.end_byte)
    children = body.named_children if body is not None else []
    statements = [c for c in children if c.type != "comment"]
    if doc_range[0] is not None:
        statements = [c for c in statements if c.start_byte > doc_range[0]]
    is_stub = len(statements) == 0 or (len(statements) == 1
                                       and _is_stub_statement(mod, statements[0]))
    is_test = name.startswith("test") and all(
        kind == "class" and cls.startswith("Test") for kind, cls in scopes)
    end_line = mod.line_of(max(start, end - 1))
    return FunctionInfo(
        name=name, qualname=qualname, class_name=class_name, is_async=is_async,
        decorators=decorators, start_byte=start, end_byte=end, start_line=mod.line_of(start),
        end_line=end_line, def_line=mod.line_of(fn.start_byte), def_start_byte=fn.start_byte,
        indent=indent, signature=signature,
        params=_params(mod, fn.child_by_field_name("parameters")), docstring=docstring,
        docstring_start_byte=doc_range[0], docstring_end_byte=doc_range[1],
        body_start_byte=body_start, body_end_byte=end, text=mod.text(start, end),
        is_stub=is_stub, is_test=is_test, has_error=fn.has_error or outer.has_error,
        scopes=list(scopes),
    )


def _collect(mod: ParsedModule, node: tree_sitter.Node, scopes: list[tuple[str, str]],
             out: list[FunctionInfo]) -> None:
    for child in node.children:
        target, outer = child, child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        if target.type in _DEF_TYPES:
            info = _build_info(mod, target, outer, scopes)
            if info is not None:
                out.append(info)
                body = target.child_by_field_name("body")
                if body is not None:
                    _collect(mod, body, scopes + [("def", info.name)], out)
            continue
        if target.type == "class_definition":
            name_node = target.child_by_field_name("name")
            body = target.child_by_field_name("body")
            if name_node is not None and body is not None:
                _collect(mod, body, scopes + [("class", mod.text(name_node))], out)
            continue
        if child.child_count:
            _collect(mod, child, scopes, out)


_DEF_LINE = re.compile(rb"^([ \t]*)(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.M)
# a line that can start a statement (not the tail of a bracket or string spanning lines)
_STATEMENT_START = re.compile(
    rb"^[ \t]*(?:@|(?:class|def|async|if|elif|else|for|while|try|except|finally|with|return|"
    rb"import|from|raise|pass|assert|del|global|nonlocal|match|case)\b|"
    rb"[A-Za-z_][\w.]*[ \t]*(?:[-+*/%&|^@]?=|\(|\[|:|$))")
_SCOPE_LINE = re.compile(rb"^([ \t]*)(?:async[ \t]+)?(class|def)[ \t]+([A-Za-z_]\w*)")


def _fallback(mod: ParsedModule, known: set[int]) -> list[FunctionInfo]:
    """Definitions tree-sitter could not recover (an error earlier in the file swallowed them):
    cut each `def` out by indentation and parse it on its own; keep it when it parses cleanly."""
    found: list[FunctionInfo] = []
    data = mod.data
    for m in _DEF_LINE.finditer(data):
        def_start = m.end(1)
        if def_start in known or _in_string(mod, def_start):
            continue
        indent = m.group(1)
        def_line = mod.line_of(def_start)
        first = def_line
        while first > 0:  # decorators directly above, at the same indentation
            prev = data[mod.line_starts[first - 1]:mod.line_end(first - 1)]
            if prev.startswith(indent + b"@") and not prev[len(indent) + 1:].startswith(b" "):
                first -= 1
            else:
                break
        line_start = mod.line_starts[first]
        info = None
        tries = 0
        line = def_line + 1
        while line <= len(mod.line_starts) and tries < 25:
            if line < len(mod.line_starts):
                text = data[mod.line_starts[line]:mod.line_end(line)]
                stripped = text.strip()
                if not stripped or (text.startswith(indent) and text[len(indent):len(indent) + 1]
                                    in (b" ", b"\t")):
                    line += 1
                    continue
                end = mod.line_starts[line]
            else:
                end = len(data)
            tries += 1
            info = _parse_piece(mod, line_start, end, indent, def_start)
            if info is not None or line >= len(mod.line_starts):
                break
            line += 1
        if info is None:
            continue
        scopes = _scopes_by_indent(mod, first, len(indent.expandtabs()))
        qual = ".".join([s[1] for s in scopes] + [info.name])
        class_name = scopes[-1][1] if scopes and scopes[-1][0] == "class" else None
        is_test = info.name.startswith("test") and all(
            k == "class" and n.startswith("Test") for k, n in scopes)
        found.append(replace(info, qualname=qual, class_name=class_name, scopes=scopes,
                             is_test=is_test, has_error=False))
        known.add(def_start)
    return found


def _in_string(mod: ParsedModule, offset: int) -> bool:
    node = mod.root.descendant_for_byte_range(offset, offset + 1)
    while node is not None:
        if node.type in ("string", "string_content", "comment"):
            return True
        node = node.parent
    return False


def _parse_piece(mod: ParsedModule, start: int, end: int, indent: bytes,
                 def_start: int) -> FunctionInfo | None:
    piece = mod.data[start:end]
    prefix = b"if 1:\n" if indent else b""
    sub = _parse_bytes_module(prefix + piece)
    infos: list[FunctionInfo] = []
    _collect(sub, sub.root, [], infos)
    delta = start - len(prefix)
    for info in infos:
        if info.def_start_byte + delta == def_start:
            if info.has_error or sub.root.has_error:
                return None
            return _shift(info, delta, mod)
    return None


def _parse_bytes_module(data: bytes) -> ParsedModule:
    return ParsedModule(data.decode("utf-8", "replace"), data, _ts.parse_bytes(data),
                        _line_starts(data))


def _shift(info: FunctionInfo, delta: int, mod: ParsedModule) -> FunctionInfo:
    def s(v: int | None) -> int | None:
        return None if v is None else v + delta

    start, end = info.start_byte + delta, info.end_byte + delta
    return replace(
        info, start_byte=start, end_byte=end, def_start_byte=info.def_start_byte + delta,
        start_line=mod.line_of(start), end_line=mod.line_of(max(start, end - 1)),
        def_line=mod.line_of(info.def_start_byte + delta),
        docstring_start_byte=s(info.docstring_start_byte),
        docstring_end_byte=s(info.docstring_end_byte),
        body_start_byte=info.body_start_byte + delta, body_end_byte=info.body_end_byte + delta,
    )


def _scopes_by_indent(mod: ParsedModule, line: int, width: int) -> list[tuple[str, str]]:
    scopes: list[tuple[str, str]] = []
    for i in range(line - 1, -1, -1):
        if width == 0:
            break
        text = mod.data[mod.line_starts[i]:mod.line_end(i)]
        if not text.strip() or text.lstrip().startswith(b"#"):
            continue
        ind = len(text) - len(text.lstrip(b" \t"))
        ind = len(text[:ind].decode("utf-8", "replace").expandtabs())
        if ind < width and _STATEMENT_START.match(text):
            m = _SCOPE_LINE.match(text)
            if m:
                scopes.append(("class" if m.group(2) == b"class" else "def",
                               m.group(3).decode("utf-8", "replace")))
            width = ind
    scopes.reverse()
    return scopes


def list_functions(source: Source) -> list[FunctionInfo]:
    """Every function definition (methods and nested functions included), in source order."""
    mod = parse(source)
    out: list[FunctionInfo] = []
    _collect(mod, mod.root, [], out)
    if mod.has_error:
        known = {f.def_start_byte for f in out if not f.has_error}
        extra = _fallback(mod, known)
        if extra:
            replaced = {f.def_start_byte for f in extra}
            out = [f for f in out if f.def_start_byte not in replaced] + extra
            out.sort(key=lambda f: f.start_byte)
    return out


def _normal_qualname(qualname: str) -> str:
    return qualname.replace(".<locals>", "").strip(".")


def find_function(source: Source, qualname: str) -> FunctionInfo | None:
    """The definition named `qualname` ("f", "Class.method", "outer.inner"). When a name is
    defined several times the last definition wins (as in Python), clean ones first. A plain
    name that matches no top-level function finds a method or nested function of that name
    when exactly one exists."""
    qualname = _normal_qualname(qualname)
    functions = list_functions(source)
    exact = [f for f in functions if f.qualname == qualname]
    if not exact and "." not in qualname:
        by_name = [f for f in functions if f.name == qualname]
        if len({f.qualname for f in by_name}) == 1:
            exact = by_name
    if not exact:
        return None
    clean = [f for f in exact if not f.has_error]
    return (clean or exact)[-1]


def function_at(source: Source, line: int, byte_col: int) -> FunctionInfo | None:
    """The innermost function whose definition (decorators included, end inclusive) contains
    the position (0-based line, UTF-8 byte column)."""
    mod = parse(source)
    offset = offset_of(mod, line, byte_col)
    best: FunctionInfo | None = None
    for f in list_functions(mod):
        if f.start_byte <= offset <= f.end_byte:
            if best is None or f.start_byte >= best.start_byte:
                best = f
    return best


def function_examples(fn: FunctionInfo) -> list[Example]:
    """The examples in the function's docstring, using its parameter names for the
    "For x = ... the output should be ..." and "Input: ... Output: ..." forms. For a method only
    examples that call it on an object (`obj.method(...)`, e.g. after a doctest's setup) are
    kept: a bare `method(...)` does not exist where the checks run (the module's namespace)."""
    if not fn.docstring:
        return []
    examples = docstring_examples(fn.docstring, fn.name, params=fn.positional_params)
    if fn.class_name is not None:
        examples = [e for e in examples if _calls_as_method(e.call, fn.name)]
    return examples


def _calls_as_method(call: str, name: str) -> bool:
    try:
        tree = ast.parse(call, mode="eval")
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr == name for n in ast.walk(tree))


# --- splicing -----------------------------------------------------------------------------------


def _dedent_code(code: str) -> str:
    lines = code.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return _reindent("\n".join(lines).rstrip(), "")


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
    piece = _reindent(piece, "")
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
    prefix_src = line[: _char_col(line, stmt.col_offset)]
    if prefix_src.strip():
        def_line = lines[node.lineno - 1]
        base = def_line[: len(def_line) - len(def_line.lstrip())]
        body_indent = base + "    "
        rest = line[_char_col(line, stmt.col_offset):]
        lines[header_last] = prefix_src.rstrip()
        lines.insert(header_last + 1, body_indent + doc_text)
        lines.insert(header_last + 2, body_indent + rest)
        return "\n".join(lines)
    body_indent = line[: len(line) - len(line.lstrip())]
    lines.insert(header_last, body_indent + doc_text)
    return "\n".join(lines)


def _char_col(line: str, byte_col: int) -> int:
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


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
    inside, _docs = _string_lines(indent + text)
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
    new_text = _reindent(new_text, fn.indent)
    new_text = new_text[len(fn.indent):] if new_text.startswith(fn.indent) else new_text.lstrip()
    if original_doc is not None:
        new_text = new_text.replace(_DOC_PLACEHOLDER, original_doc, 1)
    if not has_decorators and fn.def_start_byte > fn.start_byte:
        new_text = data[fn.start_byte:fn.def_start_byte].decode("utf-8") + new_text
    return (data[:fn.start_byte] + new_text.encode("utf-8") + data[fn.end_byte:]).decode("utf-8")


# --- imports ------------------------------------------------------------------------------------


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


# --- module context for prompts -----------------------------------------------------------------


def _short_doc(mod: ParsedModule, doc_node: tree_sitter.Node | None, indent: str,
               max_lines: int = 3) -> list[str]:
    if doc_node is None:
        return []
    value = _string_value(mod.text(doc_node))
    if value is None:
        return []
    lines = inspect.cleandoc(value).splitlines()
    if not lines:
        return []
    shown = lines[:max_lines]
    if len(lines) > max_lines:
        shown.append("...")
    if len(shown) == 1:
        return [f'{indent}"""{_escape_doc(shown[0])}"""']
    return ([f'{indent}"""{_escape_doc(shown[0])}']
            + [f"{indent}{_escape_doc(s)}" if s else "" for s in shown[1:]] + [f'{indent}"""'])


def _escape_doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _def_skeleton(mod: ParsedModule, outer: tree_sitter.Node, fn: tree_sitter.Node,
                  indent: str, body: str | None = None) -> list[str]:
    decorators = [indent + mod.text(d).strip() for d in outer.children if d.type == "decorator"]
    colon = None
    for child in fn.children:
        if child.type == ":":
            colon = child
        if child.type == "block":
            break
    end = colon.end_byte if colon is not None else fn.end_byte
    header = textwrap.dedent(mod.text(fn.start_byte, end)).split("\n")
    lines = decorators + [indent + header[0]] + header[1:]
    if body is not None:
        return lines + [indent + line if line else "" for line in body.split("\n")]
    doc = _short_doc(mod, _docstring_node(fn.child_by_field_name("body")), indent + "    ")
    return lines + doc + [indent + "    ..."]


def _class_skeleton(mod: ParsedModule, outer: tree_sitter.Node, cls: tree_sitter.Node,
                    skip: int | None) -> list[str]:
    decorators = [mod.text(d).strip() for d in outer.children if d.type == "decorator"]
    body = cls.child_by_field_name("body")
    header_end = body.start_byte if body is not None else cls.end_byte
    header = mod.text(cls.start_byte, header_end).rstrip()
    lines = decorators + header.split("\n")
    doc = _docstring_node(body)
    lines += _short_doc(mod, doc, "    ")
    members = 0
    for child in body.named_children if body is not None else []:
        if doc is not None and child.start_byte <= doc.start_byte < child.end_byte:
            continue
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        if target.type == "function_definition":
            if skip is not None and target.start_byte == skip:
                continue
            lines += _def_skeleton(mod, child, target, "    ")
            members += 1
        elif child.type == "expression_statement" and child.named_child_count and \
                child.named_children[0].type == "assignment":
            text = mod.text(child)
            lines.append("    " + (text if "\n" not in text and len(text) <= 100
                                   else text.split("=")[0].rstrip() + " = ..."))
            members += 1
        if members >= 12:
            lines.append("    # ... more members")
            break
    if len(lines) == len(decorators) + len(header.split("\n")):
        lines.append("    ...")
    return lines


def module_context(source: Source, fn: FunctionInfo, max_lines: int = 60,
                   helper_body_lines: int = 12) -> str:
    """What the function can use from its module, as compact source for a prompt: the imports,
    module-level assignments, and the signatures + docstrings of the other top-level functions
    and classes (not their bodies; a helper the function names whose body has at most
    `helper_body_lines` lines is shown whole, since its code is the specification of e.g. an
    inverse). Bounded to about `max_lines` lines; things the function mentions come first."""
    mod = parse(source)
    mentioned = set(re.findall(r"[A-Za-z_]\w*", fn.text))
    items: list[tuple[int, int, list[str]]] = []  # (priority, order, lines)
    target_top = fn.scopes[0] if fn.scopes else None
    for order, child in enumerate(mod.root.children):
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        kind = target.type
        if kind in ("import_statement", "import_from_statement", "future_import_statement"):
            items.append((0, order, mod.text(child).split("\n")))
        elif kind == "function_definition":
            if target.start_byte == fn.def_start_byte:
                continue
            name_node = target.child_by_field_name("name")
            name = mod.text(name_node) if name_node is not None else ""
            if target_top is not None and target_top == ("def", name):
                continue  # the function that encloses the target: its body is the target's home
            if name.startswith("test"):
                continue
            body = target.child_by_field_name("body")
            full = None
            if name in mentioned and body is not None and helper_body_lines > 0:
                body_text = textwrap.dedent(
                    " " * (body.start_point[1]) + mod.text(body)).rstrip()
                if body_text.count("\n") + 1 <= helper_body_lines:
                    full = textwrap.indent(body_text, "    ")
            items.append((1 if name in mentioned else 2, order,
                          _def_skeleton(mod, child, target, "", full)))
        elif kind == "class_definition":
            name_node = target.child_by_field_name("name")
            name = mod.text(name_node) if name_node is not None else ""
            own = target_top == ("class", name)
            if name.startswith("Test") and not own:
                continue
            items.append((1 if (own or name in mentioned) else 2, order,
                          _class_skeleton(mod, child, target,
                                          fn.def_start_byte if own else None)))
        elif kind == "expression_statement" and child.named_child_count and \
                child.named_children[0].type in ("assignment", "augmented_assignment"):
            text = mod.text(child)
            left = child.named_children[0].child_by_field_name("left")
            name = mod.text(left) if left is not None else ""
            if "\n" in text or len(text) > 120:
                text = f"{name} = ..."
            items.append((1 if name in mentioned else 2, order, [text]))
        elif kind in ("if_statement", "try_statement"):
            text = mod.text(child)
            if "__name__" in text.split("\n")[0]:
                continue
            statements = [n for n in _ts.walk(child)
                          if n.type.endswith("_statement") and n is not child
                          and n.type not in ("import_statement", "import_from_statement",
                                             "pass_statement", "expression_statement")]
            if not statements and text.count("\n") < 8 and "import" in text:
                items.append((0, order, text.split("\n")))
    ranked = sorted(items, key=lambda it: (it[0], it[1]))
    chosen: list[tuple[int, int, list[str]]] = []
    for item in ranked:  # greedily, most relevant first, while the text stays in bounds
        if len(_render(chosen + [item], len(items) - len(chosen) - 1)) <= max_lines:
            chosen.append(item)
    return "\n".join(_render(chosen, len(items) - len(chosen))).strip("\n") + (
        "\n" if chosen or items else "")


def _render(chosen: list[tuple[int, int, list[str]]], omitted: int) -> list[str]:
    out: list[str] = []
    previous_kind = None
    previous_multi = False
    for priority, _order, lines in sorted(chosen, key=lambda it: it[1]):
        kind = "import" if priority == 0 and any(
            line.startswith(("import ", "from ")) for line in lines) else "other"
        multi = len(lines) > 1 and kind != "import"
        if out and (multi or kind != previous_kind or previous_multi):
            out.append("")
        out.extend(lines)
        previous_kind = kind
        previous_multi = multi
    if omitted:
        out.append(f"# ... {omitted} more module-level definitions not shown")
    return out


# --- project tests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestRef:
    """A test function in the project: its file, qualname and pytest node id."""

    __test__ = False  # not a pytest test class

    path: Path
    qualname: str
    node_id: str


SKIP_DIRS = frozenset({
    ".venv", "venv", "env", ".env", "node_modules", ".git", ".hg", ".svn", "build", "dist",
    "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
    ".eggs", "htmlcov",
})


def is_test_file(path: str | Path) -> bool:
    """pytest's default test file names: test_*.py and *_test.py."""
    name = Path(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def node_id(project_root: Path, path: Path, qualname: str) -> str:
    """The pytest node id of the test `qualname` (a function or Class.method) in `path`."""
    rel = path.resolve().relative_to(project_root.resolve()).as_posix()
    return f"{rel}::" + qualname.replace(".", "::")


def _test_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if is_test_file(name):
                found.append(Path(dirpath) / name)
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _calls_in(mod: ParsedModule, node: tree_sitter.Node) -> list[tuple[str, str | None]]:
    """(called name, the dotted object it is called on or None) for each call under `node`."""
    out: list[tuple[str, str | None]] = []
    for n in _ts.walk(node):
        if n.type != "call":
            continue
        func = n.child_by_field_name("function")
        if func is None:
            continue
        if func.type == "identifier":
            out.append((mod.text(func), None))
        elif func.type == "attribute":
            attr = func.child_by_field_name("attribute")
            obj = func.child_by_field_name("object")
            if attr is not None:
                out.append((mod.text(attr), mod.text(obj) if obj is not None else ""))
    return out


@dataclass
class _ImportInfo:
    names: dict[str, tuple[str, str | None]]  # bound name -> (module, attribute or None)
    star: list[str]  # modules imported with *
    defined: set[str]  # names the file defines itself (def / class / assignment)


def _file_imports(mod: ParsedModule) -> _ImportInfo:
    names: dict[str, tuple[str, str | None]] = {}
    star: list[str] = []
    for node in _ts.walk(mod.root):
        if node.type not in ("import_statement", "import_from_statement"):
            continue
        try:
            stmt = ast.parse(textwrap.dedent(mod.text(node))).body[0]
        except (SyntaxError, ValueError, IndexError):
            continue
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    names[a.asname] = (a.name, None)
                else:
                    names.setdefault(a.name.split(".")[0], (a.name.split(".")[0], None))
                    names[a.name] = (a.name, None)
        elif isinstance(stmt, ast.ImportFrom):
            module = "." * (stmt.level or 0) + (stmt.module or "")
            for a in stmt.names:
                if a.name == "*":
                    star.append(module)
                else:
                    names[a.asname or a.name] = (module, a.name)
    defined: set[str] = set()
    for child in mod.root.children:
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        if target.type in ("function_definition", "class_definition"):
            n = target.child_by_field_name("name")
            if n is not None:
                defined.add(mod.text(n))
        elif child.type == "expression_statement" and child.named_child_count and \
                child.named_children[0].type == "assignment":
            left = child.named_children[0].child_by_field_name("left")
            if left is not None and left.type == "identifier":
                defined.add(mod.text(left))
    return _ImportInfo(names, star, defined)


def _search_roots(project_root: Path, test_file: Path) -> list[Path]:
    """Directories an import may be resolved from, as pytest (rootdir/basedir) and a src layout
    would put them on sys.path."""
    roots: list[Path] = []
    d = test_file.parent
    while (d / "__init__.py").exists() and d != d.parent:  # pytest's "basedir" (rootdir-less)
        d = d.parent
    for r in (d, test_file.parent, project_root, project_root / "src"):
        if r.is_dir() and r not in roots:
            roots.append(r)
    return roots


def _module_file(roots: list[Path], module: str, test_file: Path) -> Path | None:
    if module.startswith("."):
        level = len(module) - len(module.lstrip("."))
        base = test_file.parent
        for _ in range(level - 1):
            base = base.parent
        rest = module.lstrip(".")
        candidates = [base]
        parts = rest.split(".") if rest else []
        for c in candidates:
            p = c.joinpath(*parts) if parts else c
            if parts and p.with_suffix(".py").is_file():
                return p.with_suffix(".py")
            if (p / "__init__.py").is_file():
                return p / "__init__.py"
        return None
    parts = module.split(".")
    for root in roots:
        p = root.joinpath(*parts)
        if p.with_suffix(".py").is_file():
            return p.with_suffix(".py")
        if (p / "__init__.py").is_file():
            return p / "__init__.py"
    return None


def _defines(mod: ParsedModule, qualname: str) -> bool:
    head = qualname.split(".")[0]
    for child in mod.root.children:
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        if target.type in ("function_definition", "class_definition"):
            n = target.child_by_field_name("name")
            if n is not None and mod.text(n) == head:
                if "." not in qualname or find_function(mod, qualname) is not None:
                    return True
                return target.type == "class_definition"
        elif child.type == "expression_statement" and child.named_child_count and \
                child.named_children[0].type == "assignment":
            left = child.named_children[0].child_by_field_name("left")
            if left is not None and mod.text(left) == head:
                return True
    return False


def _resolve_in_module(project_root: Path, path: Path, qualname: str,
                       depth: int = 0) -> tuple[Path, str] | None:
    """Follow re-exports (`from .impl import f` in a package's __init__) to the defining file."""
    if depth > 6:
        return None
    text = _read(path)
    if text is None:
        return None
    mod = parse(text)
    if _defines(mod, qualname):
        return path, qualname
    head, _, rest = qualname.partition(".")
    info = _file_imports(mod)
    roots = _search_roots(project_root, path)
    if head in info.names:
        module, attr = info.names[head]
        return _follow(project_root, roots, path, module, attr, rest, depth + 1)
    # `from pkg import mod` written as attribute access: pkg/__init__ may not import it
    sub = path.parent / head
    if path.name == "__init__.py":
        if sub.with_suffix(".py").is_file() and rest:
            return _resolve_in_module(project_root, sub.with_suffix(".py"), rest, depth + 1)
        if (sub / "__init__.py").is_file() and rest:
            return _resolve_in_module(project_root, sub / "__init__.py", rest, depth + 1)
    for module in info.star:
        target = _module_file(roots, module, path)
        if target is not None:
            found = _resolve_in_module(project_root, target, qualname, depth + 1)
            if found is not None:
                return found
    return None


def _follow(project_root: Path, roots: list[Path], from_file: Path, module: str,
            attr: str | None, rest: str, depth: int) -> tuple[Path, str] | None:
    if attr is None:  # `import pkg.mod [as m]`: rest is inside that module (or a submodule)
        parts = rest.split(".") if rest else []
        for i in range(len(parts), -1, -1):
            target = _module_file(roots, ".".join([module] + parts[:i]), from_file) \
                if not module.startswith(".") else None
            if target is not None and i < len(parts):
                return _resolve_in_module(project_root, target, ".".join(parts[i:]), depth)
        return None
    target = _module_file(roots, module, from_file)
    # `from pkg import mod`: attr may be a submodule
    sub = _module_file(roots, (module + "." if not module.endswith(".") else module) + attr,
                       from_file)
    if sub is not None and rest and (target is None or not _defines(parse(_read(target) or ""),
                                                                     attr)):
        return _resolve_in_module(project_root, sub, rest, depth)
    if target is None:
        return None
    return _resolve_in_module(project_root, target, attr + ("." + rest if rest else ""), depth)


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return not any(part in SKIP_DIRS for part in path.resolve().relative_to(root.resolve()).parts)


def resolve_import(project_root: Path, test_file: Path, name: str) -> tuple[Path, str] | None:
    """The project file that defines `name` as the test file sees it, and its qualname there.

    `name` is a name the test file uses: "add" (`from pkg.mod import add`), "m.add"
    (`import pkg.mod as m`), "pkg.mod.add" (`import pkg.mod`), "Calc.add" (a method of an
    imported class). Relative imports and re-exports through packages are followed. None when
    the name does not come from a file inside the project.
    """
    project_root = Path(project_root)
    test_file = Path(test_file)
    text = _read(test_file)
    if text is None:
        return None
    mod = parse(text)
    info = _file_imports(mod)
    roots = _search_roots(project_root, test_file)
    parts = name.split(".")
    found = None
    for i in range(len(parts), 0, -1):  # the longest bound prefix: "pkg.mod" before "pkg"
        bound = ".".join(parts[:i])
        if bound in info.names:
            module, attr = info.names[bound]
            found = _follow(project_root, roots, test_file, module, attr, ".".join(parts[i:]), 0)
            break
    if found is None and parts[0] not in info.names:
        for module in info.star:
            target = _module_file(roots, module, test_file)
            if target is not None:
                found = _resolve_in_module(project_root, target, name, 1)
                if found is not None:
                    break
    if found is None or not _within(found[0], project_root):
        return None
    return found


def called_functions(test_fn: str | FunctionInfo, test_file_source: str, *,
                     project_root: Path | None = None,
                     test_file: Path | None = None) -> list[str]:
    """Names the test calls that come from other modules (its code under test), in call order:
    "add" for `from pkg.mod import add`, "m.add" for `m.add(...)` on an imported module, and
    "Calc.add" for `Calc(...).add(...)` or `c = Calc(); c.add(...)` with Calc imported.
    Standard-library and test-tool imports are left out; with `project_root` and `test_file`
    only names that `resolve_import` finds inside the project are kept."""
    file_mod = parse(test_file_source)
    info = _file_imports(file_mod)
    if isinstance(test_fn, FunctionInfo):
        fn_text = test_fn.text
        if fn_text.startswith("@") or test_fn.indent:
            fn_text = textwrap.dedent(test_fn.indent + fn_text)
    else:
        fn_text = textwrap.dedent(test_fn)
    mod = parse(fn_text)
    ignored = set(getattr(sys, "stdlib_module_names", ())) | {
        "pytest", "unittest", "mock", "hypothesis", "numpy", "pandas"}

    def from_project(bound: str) -> bool:
        module = info.names[bound][0]
        return module.split(".")[0] not in ignored or module.startswith(".")

    instances: dict[str, str] = {}  # variable -> imported class name
    for n in _ts.walk(mod.root):
        if n.type == "assignment":
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            if left is not None and right is not None and left.type == "identifier" \
                    and right.type == "call":
                func = right.child_by_field_name("function")
                if func is not None and func.type == "identifier" and \
                        mod.text(func) in info.names and from_project(mod.text(func)):
                    instances[mod.text(left)] = mod.text(func)
    names: list[str] = []
    for n in _ts.walk(mod.root):
        if n.type != "call":
            continue
        func = n.child_by_field_name("function")
        if func is None:
            continue
        candidate = None
        if func.type == "identifier":
            name = mod.text(func)
            if name in info.names and from_project(name):
                candidate = name
        elif func.type == "attribute":
            obj = func.child_by_field_name("object")
            attr = func.child_by_field_name("attribute")
            if obj is None or attr is None:
                continue
            obj_text = mod.text(obj)
            if obj.type == "call":
                inner = obj.child_by_field_name("function")
                if inner is not None and inner.type == "identifier" and \
                        mod.text(inner) in info.names and from_project(mod.text(inner)):
                    candidate = mod.text(inner) + "." + mod.text(attr)
            elif obj_text in instances:
                candidate = instances[obj_text] + "." + mod.text(attr)
            elif obj_text in info.names and from_project(obj_text):
                candidate = obj_text + "." + mod.text(attr)
        if candidate and candidate not in names:
            names.append(candidate)
    # a class whose method the test calls is not itself the code under test
    names = [c for c in names if "." in c or not any(m.startswith(c + ".") for m in names)]
    if project_root is not None and test_file is not None:
        names = [c for c in names if resolve_import(project_root, test_file, c) is not None]
    return names


def find_tests(project_root: Path, func_name: str,
               module_path: Path | None = None) -> list[TestRef]:
    """Test functions (in test_*.py / *_test.py under the project, virtualenvs, build output and
    hidden directories skipped) whose body calls `func_name` directly, as `module.func_name(...)`
    or as a method `.func_name(...)`. With `module_path`, only tests whose call resolves to that
    file are kept (a method call counts when the test file imports something from it)."""
    project_root = Path(project_root)
    wanted = Path(module_path).resolve() if module_path is not None else None
    refs: list[TestRef] = []
    needle = re.compile(r"(?<![\w])" + re.escape(func_name) + r"\b")
    for path in _test_files(project_root):
        text = _read(path)
        if text is None or not needle.search(text):
            continue
        mod = parse(text)
        info = _file_imports(mod) if wanted is not None else None
        cache: dict[str, bool] = {}

        def comes_from_module(name: str, path: Path = path, cache: dict[str, bool] = cache) -> bool:
            if name not in cache:
                found = resolve_import(project_root, path, name)
                cache[name] = found is not None and found[0].resolve() == wanted
            return cache[name]

        for fn in list_functions(mod):
            if not fn.is_test:
                continue
            body_start = fn.def_start_byte
            node = mod.root.descendant_for_byte_range(body_start, fn.end_byte)
            while node is not None and node.type != "function_definition":
                node = node.parent
            if node is None:
                continue
            hit = False
            for called, obj in _calls_in(mod, node):
                if called != func_name:
                    continue
                if wanted is None or info is None:
                    hit = True
                elif obj is None:
                    hit = func_name not in info.defined and comes_from_module(func_name)
                else:
                    head = obj.split(".")[0]
                    hit = head in info.names and comes_from_module(obj + "." + func_name)
                    if not hit:  # a method called on an instance: the file imports from it
                        hit = any(comes_from_module(n) for n, (_m, attr) in info.names.items()
                                  if attr is not None)
                if hit:
                    break
            if hit:
                rel = path.relative_to(project_root).as_posix() if path.is_relative_to(
                    project_root) else path.as_posix()
                refs.append(TestRef(path, fn.qualname, rel + "::" + fn.qualname.replace(".", "::")))
    return refs
