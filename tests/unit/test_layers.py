"""The layers import only downwards: engine/, sandbox/ and code/ know nothing of the pipeline
or the language server, and only lsp/ imports pygls or lsprotocol."""

from __future__ import annotations

import ast
from pathlib import Path

import verifix

PACKAGE = Path(verifix.__file__).parent


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).parts, imports(path)


def test_only_lsp_imports_pygls_and_lsprotocol():
    bad = [(parts, sorted(i for i in names if i.split(".")[0] in ("pygls", "lsprotocol")))
           for parts, names in modules() if parts[0] != "lsp"]
    assert [b for b in bad if b[1]] == []


def test_lower_layers_do_not_import_upper_ones():
    upper = ("verifix.pipeline", "verifix.lsp", "verifix.bench", "verifix.cli", "verifix.runtime")
    bad = [(parts, sorted(i for i in names if i.startswith(upper)))
           for parts, names in modules() if parts[0] in ("engine", "sandbox", "code")]
    assert [b for b in bad if b[1]] == []
