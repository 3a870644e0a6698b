"""Code in model replies: the function asked for, the imports and helpers it needs; and the
test inputs a model proposes. Prose is ignored; nothing here runs the code."""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass, field

from verifix.code.parsing import parse_exact
from verifix.code.reindent import reindent

__all__ = ["ExtractedCode", "code_blocks", "extract_expressions", "extract_function"]


@dataclass
class ExtractedCode:
    code: str  # a self-contained module: imports + helpers + the function
    function: str  # the definition alone (decorators included), at column 0
    imports: list[str] = field(default_factory=list)  # import statements the code uses
    helpers: list[str] = field(default_factory=list)  # helper functions/classes/constants used


_FENCE_OPEN = re.compile(r"^[ \t]*(?P<mark>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.#-]*)[^\n`]*$")
_PY_LANGS = {"", "python", "py", "python3", "py3", "ipython", "python3.11", "python3.10"}
_CODE_START = re.compile(r"^[ \t]*(?:@[\w.]+|(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(|class[ \t]+\w+"
                         r"|import[ \t]+\w|from[ \t]+[\w.]+[ \t]+import[ \t])")
_CODE_LINE = re.compile(
    r"^(?:@|def |async |class |import |from |if |elif |else:|for |while |try:|except|finally:|"
    r"with |return\b|raise\b|assert |print\(|#|[A-Za-z_][\w.]*(?:\[[^\]]*\])?\s*"
    r"(?:=|\(|\+=|-=|\*=|:\s*\w))")


def code_blocks(reply: str) -> list[str]:
    """Python code in a reply: its fenced blocks (an unclosed last fence runs to the end), or,
    without fences, the runs of code-looking lines."""
    text = reply.replace("\r\n", "\n")
    lines = text.split("\n")
    blocks: list[str] = []
    fenced = False
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fenced = True
        mark = m.group("mark")
        lang = m.group("lang").lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(r"^[ \t]*" + re.escape(mark[0]) + "{"
                                              + str(len(mark)) + r",}[ \t]*$", lines[j]):
            body.append(lines[j])
            j += 1
        if lang in _PY_LANGS:
            blocks.append("\n".join(body))
        i = j + 1
    if fenced:
        return [b for b in blocks if b.strip()]
    return _bare_regions(lines)


def _bare_regions(lines: list[str]) -> list[str]:
    whole = "\n".join(lines)
    if _parses(textwrap.dedent(whole)):
        return [whole]
    regions: list[str] = []
    i = 0
    while i < len(lines):
        if not _CODE_START.match(lines[i]):
            i += 1
            continue
        base = len(lines[i]) - len(lines[i].lstrip())
        region = [lines[i]]
        j = i + 1
        while j < len(lines):
            line = lines[j]
            indent = len(line) - len(line.lstrip())
            if not line.strip() or indent > base or (
                    indent == base and _CODE_LINE.match(line.strip())):
                region.append(line)
                j += 1
                continue
            break
        regions.append("\n".join(region).rstrip())
        i = j
    return regions


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


_SALVAGE_TYPES = ("function_definition", "decorated_definition", "class_definition",
                  "import_statement", "import_from_statement", "future_import_statement")


def _module_of(block: str) -> tuple[str, ast.Module] | None:
    """The block as parseable code: as is, without trailing lines cut off mid-way, or the
    top-level definitions and imports tree-sitter finds intact."""
    code = reindent(block.replace("\r\n", "\n"), "").strip("\n")
    code = "\n".join(line[4:] if line.startswith(">>> ") or line.startswith("... ") else line
                     for line in code.split("\n")) if code.lstrip().startswith(">>> ") else code
    try:
        return code, ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass
    lines = code.split("\n")
    for cut in range(1, min(8, len(lines))):
        shorter = "\n".join(lines[:-cut])
        try:
            return shorter, ast.parse(shorter)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    data = code.encode("utf-8")
    pieces = []
    for child in parse_exact(data).root.children:
        if child.type in _SALVAGE_TYPES and not child.has_error:
            pieces.append(data[child.start_byte:child.end_byte].decode("utf-8"))
        elif child.type == "expression_statement" and not child.has_error and \
                child.named_child_count and child.named_children[0].type == "assignment":
            pieces.append(data[child.start_byte:child.end_byte].decode("utf-8"))
    if not pieces:
        return None
    salvaged = "\n\n".join(pieces)
    try:
        return salvaged, ast.parse(salvaged)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _segment(code: str, node: ast.stmt) -> str:
    lines = code.split("\n")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    text = "\n".join(lines[first - 1:node.end_lineno])
    return reindent(text, "").strip("\n")


def _names_used(node: ast.AST) -> set[str]:
    """Names a statement reads from outside itself (a function's own locals left out)."""
    used: set[str] = set()
    local: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        local |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
        local |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                local.add(n.id)
            elif n is not node and isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                  ast.ClassDef)):
                local.add(n.name)
            elif isinstance(n, (ast.Global, ast.Nonlocal)):
                local -= set(n.names)
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            used.add(n.id)
        elif isinstance(n, ast.Attribute):
            root = n
            while isinstance(root, ast.Attribute):
                root = root.value  # type: ignore[assignment]
            if isinstance(root, ast.Name):
                used.add(root.id)
    return used - local


def _defined_name(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        return [stmt.target.id]
    return []


def _find_target(module: ast.Module, name: str) -> tuple[ast.stmt, bool] | None:
    """(definition, is_method) of `name` in a module: a top-level def, else a class method."""
    for stmt in reversed(module.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
            return stmt, False
    for stmt in reversed(module.body):
        if isinstance(stmt, ast.ClassDef):
            for sub in reversed(stmt.body):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name == name:
                    return sub, True
    return None


def extract_function(reply_text: str, name: str) -> ExtractedCode | None:
    """The definition of `name` in a model reply, with the imports and helpers it uses.

    Fenced blocks are read (several allowed; the last one that defines `name` wins, imports and
    helpers may come from any), or code-looking lines when there are no fences. A method named
    `name` inside a class is taken when no top-level function is. None when the reply holds no
    parseable definition of `name`."""
    modules = [m for m in (_module_of(b) for b in code_blocks(reply_text or "")) if m is not None]
    target = None
    for code, module in modules:
        found = _find_target(module, name)
        if found is not None and (target is None or not found[1] or target[2]):
            target = (code, found[0], found[1])
    if target is None:
        return None
    target_code, target_node, _ = target
    function = _segment(target_code, target_node)
    # everything defined at the top level of any block, later definitions winning
    pool: dict[str, tuple[int, str, ast.stmt]] = {}
    imports: list[tuple[int, ast.stmt]] = []
    order = 0
    for code, module in modules:
        for stmt in module.body:
            order += 1
            if stmt is target_node:
                continue
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                imports.append((order, stmt))
                continue
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and name in _names_used(stmt):
                continue  # `result = f(3)`: code that uses the function, not a helper
            for defined in _defined_name(stmt):
                if defined != name:
                    pool[defined] = (order, _segment(code, stmt), stmt)
    used = _names_used(target_node)
    chosen: dict[str, tuple[int, str]] = {}
    frontier = set(used)
    while frontier:
        new: set[str] = set()
        for n in frontier:
            if n in pool and n not in chosen:
                order_n, text, stmt = pool[n]
                chosen[n] = (order_n, text)
                new |= _names_used(stmt)
        used |= new
        frontier = new - set(chosen)
    helpers: list[str] = []
    for _order, text in sorted(set(chosen.values())):
        if text not in helpers:
            helpers.append(text)
    import_lines: list[str] = []
    for _order, stmt in imports:
        statement = _used_import(stmt, used)
        if statement and statement not in import_lines:
            import_lines.append(statement)
    parts = []
    if import_lines:
        parts.append("\n".join(import_lines))
    parts += helpers
    parts.append(function)
    code = "\n\n\n".join(parts) + "\n"
    if not _parses(code):
        return None
    return ExtractedCode(code=code, function=function + "\n", imports=import_lines,
                         helpers=helpers)


def _used_import(stmt: ast.stmt, used: set[str]) -> str | None:
    if isinstance(stmt, ast.Import):
        keep = [a for a in stmt.names if (a.asname or a.name.split(".")[0]) in used]
        return ast.unparse(ast.Import(names=keep)) if keep else None
    if isinstance(stmt, ast.ImportFrom):
        if stmt.module == "__future__" or (stmt.level or 0) > 0:
            return None
        keep = [a for a in stmt.names if a.name != "*" and (a.asname or a.name) in used]
        if not keep:
            return None
        return ast.unparse(ast.ImportFrom(module=stmt.module, names=keep, level=0))
    return None


_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(.*)$")
_BACKTICKS = re.compile(r"`([^`]+)`")


def _strip_comment(line: str) -> str:
    if "#" not in line:
        return line
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.COMMENT:
                return line[: tok.start[1]].rstrip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return line


def _expression(text: str) -> str | None:
    text = _strip_comment(text.strip())
    if text.startswith(">>> "):
        text = text[4:]
    text = text.strip().rstrip(",;").strip()
    if not text or "\n" in text:
        return None
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if isinstance(node, ast.Name):
        return None  # a lone word is prose, not an input
    return text


def extract_expressions(reply_text: str) -> list[str]:
    """Valid one-line Python expressions a reply lists (one per line, in code fences or as
    bullet items; a bullet's first `code span` is used when it has one), in order, unique."""
    out: list[str] = []
    lines = (reply_text or "").replace("\r\n", "\n").split("\n")
    in_fence = False
    mark = ""
    for line in lines:
        m = _FENCE_OPEN.match(line)
        if not in_fence and m:
            in_fence, mark = True, m.group("mark")
            continue
        if in_fence and line.strip().startswith(mark[0] * 3) and not line.strip().strip(mark[0]):
            in_fence = False
            continue
        candidate = None
        if in_fence:
            candidate = _expression(line)
        else:
            b = _BULLET.match(line)
            if b:
                spans = _BACKTICKS.findall(b.group(1))
                candidate = _expression(spans[0]) if spans else _expression(b.group(1))
            else:
                spans = _BACKTICKS.findall(line)
                if len(spans) == 1 and line.strip() == f"`{spans[0]}`":
                    candidate = _expression(spans[0])
        if candidate is not None and candidate not in out:
            out.append(candidate)
    return out
