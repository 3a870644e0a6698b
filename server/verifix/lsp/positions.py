"""UTF-8 byte offsets (tree-sitter) <-> LSP positions, through the document's position codec.

Neovim negotiates UTF-8 columns, VS Code UTF-16: the codec knows which; verifix.code knows
bytes and code points. Nothing else converts columns.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition

from verifix import code as pycode


def _line_text(source: str, line: int) -> str:
    lines = source.split("\n")
    return lines[line] if 0 <= line < len(lines) else ""


def to_client(doc: TextDocument, source: str, byte_offset: int) -> types.Position:
    line, byte_col = pycode.position_of(source, byte_offset)
    col = pycode.byte_col_to_codepoint(_line_text(source, line), byte_col)
    return doc.position_codec.position_to_client_units(
        _codec_lines(source), ServerTextPosition(line, col))


def range_to_client(doc: TextDocument, source: str, start: int, end: int) -> types.Range:
    return types.Range(start=to_client(doc, source, start), end=to_client(doc, source, end))


def from_client(doc: TextDocument, source: str, pos: types.Position) -> tuple[int, int]:
    """(0-based line, UTF-8 byte column) of a client position."""
    server = doc.position_codec.position_from_client_units(_codec_lines(source), pos)
    return server.line, pycode.codepoint_col_to_byte(_line_text(source, server.line),
                                                     server.character)


def _codec_lines(source: str) -> list[str]:
    # Lines split on "\n" only, like tree-sitter (str.splitlines also splits on U+2028 etc.).
    return [line + "\n" for line in source.split("\n")]
