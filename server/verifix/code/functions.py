"""Function definitions in Python source: FunctionInfo, finding them (also past syntax errors),
and the examples in a function's docstring."""

from __future__ import annotations

import ast
import functools
import inspect
import re
from dataclasses import dataclass, field, replace

import tree_sitter

from verifix.code.docstring_checks import docstring_examples
from verifix.code.example_values import Example
from verifix.code.parsing import ParsedModule, Source, offset_of, parse, parse_exact


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


def docstring_node(block: tree_sitter.Node | None) -> tree_sitter.Node | None:
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


def string_value(text: str) -> str | None:
    """The value of a string literal's source text; None when it is not one."""
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


def header_colon(fn: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ":" that ends a definition's header (its last one before the body)."""
    colon = None
    for child in fn.children:
        if child.type == ":":
            colon = child
        if child.type == "block":
            break
    return colon


@functools.lru_cache(maxsize=64)
def _testcase_classes(source: str) -> frozenset[str]:
    """Classes deriving from a unittest TestCase: pytest collects them whatever their name."""
    return frozenset(re.findall(r"^[ \t]*class[ \t]+(\w+)[ \t]*\([^)]*TestCase\b", source,
                                re.MULTILINE))


def _is_test(name: str, scopes: list[tuple[str, str]], source: str) -> bool:
    """A function or method pytest collects as a test (with its default naming rules)."""
    return name.startswith("test") and all(
        kind == "class" and (cls.startswith("Test") or cls in _testcase_classes(source))
        for kind, cls in scopes)


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
    colon = header_colon(fn)
    body = fn.child_by_field_name("body")
    header_end = colon.end_byte if colon is not None else (
        body.start_byte if body is not None else fn.end_byte)
    signature = mod.text(fn.start_byte, header_end).rstrip()
    body_start = header_end
    while body_start < end and mod.data[body_start:body_start + 1] in (b" ", b"\t", b"\n", b"\r",
                                                                       b"\\", b"\f"):
        body_start += 1
    body_start = min(body_start, end)
    doc_node = docstring_node(body)
    docstring = None
    doc_range: tuple[int | None, int | None] = (None, None)
    if doc_node is not None:
        value = string_value(mod.text(doc_node))
        if value is not None:
            docstring = inspect.cleandoc(value)
            doc_range = (doc_node.start_byte, doc_node.end_byte)
    children = body.named_children if body is not None else []
    statements = [c for c in children if c.type != "comment"]
    if doc_range[0] is not None:
        statements = [c for c in statements if c.start_byte > doc_range[0]]
    is_stub = len(statements) == 0 or (len(statements) == 1
                                       and _is_stub_statement(mod, statements[0]))
    is_test = _is_test(name, scopes, mod.source)
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


# --- definitions a syntax error hid from tree-sitter ---------------------------------------------


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
        is_test = _is_test(info.name, scopes, mod.source)
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
    sub = parse_exact(prefix + piece)
    infos: list[FunctionInfo] = []
    _collect(sub, sub.root, [], infos)
    delta = start - len(prefix)
    for info in infos:
        if info.def_start_byte + delta == def_start:
            if info.has_error or sub.root.has_error:
                return None
            return _shift(info, delta, mod)
    return None


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


# --- lookup --------------------------------------------------------------------------------------


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
