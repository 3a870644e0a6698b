"""Python source parsed by tree-sitter (cached) and positions in it: byte offsets (UTF-8, lines
0-based), and the one place columns convert between UTF-8 bytes, code points and UTF-16 units."""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter
import tree_sitter_python

_LANGUAGE = tree_sitter.Language(tree_sitter_python.language())
_local = threading.local()  # one parser per thread: parsers are not thread-safe


def _tree(data: bytes) -> tree_sitter.Tree:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = tree_sitter.Parser(_LANGUAGE)
    return parser.parse(data)


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Every node under `node` (itself included), depth first, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


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
    return ParsedModule(source, data, _tree(data), _line_starts(data))


def parse(source: Source | bytes) -> ParsedModule:
    """Parse Python source (str or UTF-8 bytes); a ParsedModule is returned as is."""
    if isinstance(source, ParsedModule):
        return source
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    return _parse_cached(source)


def parse_exact(data: bytes) -> ParsedModule:
    """Parse these very bytes (not cached): offsets refer to `data` even where it is not UTF-8."""
    return ParsedModule(data.decode("utf-8", "replace"), data, _tree(data), _line_starts(data))


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
