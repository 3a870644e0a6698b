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


def module_graph() -> dict[str, set[str]]:
    """verifix module -> the verifix modules it imports (type-only imports included)."""
    names = {".".join(("verifix", *p.relative_to(PACKAGE).with_suffix("").parts))
             .removesuffix(".__init__") for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        me = ".".join(("verifix", *path.relative_to(PACKAGE).with_suffix("").parts))
        me = me.removesuffix(".__init__")
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from verifix.code import parsing` imports the module verifix.code.parsing.
                subs = {f"{node.module}.{a.name}" for a in node.names}
                targets |= (subs & names) or {node.module}
        graph[me] = {t for t in targets if t in names and t != me}
    return graph


def test_no_import_cycles():
    graph = module_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_lower_layers_do_not_import_upper_ones():
    upper = ("verifix.pipeline", "verifix.lsp", "verifix.bench", "verifix.cli", "verifix.runtime")
    bad = [(parts, sorted(i for i in names if i.startswith(upper)))
           for parts, names in modules() if parts[0] in ("engine", "sandbox", "code")]
    assert [b for b in bad if b[1]] == []
