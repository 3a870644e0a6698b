"""Code actions and hover: listed from the syntax tree alone, never touching the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from lsprotocol import types
from pygls.uris import to_fs_path

from verifix import code as pycode
from verifix.lsp import edits, positions
from verifix.lsp import protocol as P

if TYPE_CHECKING:
    from verifix.lsp.server import VerifixServer


def _is_python(uri: str) -> bool:
    return uri.endswith((".py", ".pyi"))


def _command(title: str, name: str, args: Any) -> types.Command:
    return types.Command(title=title, command=name, arguments=[attrs.asdict(args)])


def code_actions(ls: VerifixServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    if not _is_python(uri):
        return []
    doc = ls.workspace.get_text_document(uri)
    try:
        source = doc.source
    except OSError:
        return []
    line, col = positions.from_client(doc, source, params.range.start)
    fn = pycode.function_at(source, line, col)
    fixes: list[types.CodeAction] = []
    stubs: list[types.CodeAction] = []
    repairs: list[types.CodeAction] = []
    others: list[types.CodeAction] = []
    ours = [d for d in params.context.diagnostics if d.source == P.DIAGNOSTIC_SOURCE]
    fn_path = to_fs_path(uri)
    for fix in ls.fixes.values():
        on_test = fix.test_uri == uri and (
            (fn is not None and fn.qualname == fix.test_qualname)
            or any(_diag_test(d) == fix.test_qualname for d in ours))
        on_target = fn is not None and fix.task.file == fn_path and fn.qualname == fix.task.qualname
        if on_test or on_target:
            fixes.append(types.CodeAction(
                title=f"{P.TITLE_APPLY_FIX} ({edits.annotation_label(fix.result)})",
                kind=types.CodeActionKind.QuickFix, is_preferred=True,
                diagnostics=[d for d in ours if _diag_test(d) == fix.test_qualname] or None,
                command=_command(P.TITLE_APPLY_FIX, P.APPLY_FIX, P.ApplyFixArgs(fix.id))))
    repaired: set[str] = set()
    for d in ours:
        name = _diag_test(d)
        if name and name not in repaired:
            repaired.add(name)
            repairs.append(types.CodeAction(
                title=f"{P.TITLE_REPAIR} ({name})", kind=types.CodeActionKind.QuickFix,
                diagnostics=[d], command=_command(P.TITLE_REPAIR, P.REPAIR,
                                                  P.RepairArgs(uri, name))))
    if fn is not None:
        if fn.is_test:
            if fn.qualname not in repaired:
                repairs.append(types.CodeAction(
                    title=P.TITLE_REPAIR, kind=types.CodeActionKind.QuickFix,
                    command=_command(P.TITLE_REPAIR, P.REPAIR, P.RepairArgs(uri, fn.qualname))))
        else:
            action = types.CodeAction(
                title=P.TITLE_GENERATE if fn.is_stub else f"{P.TITLE_GENERATE} (rewrite "
                f"{fn.name})", kind=types.CodeActionKind.RefactorRewrite,
                is_preferred=fn.is_stub or None,
                command=_command(P.TITLE_GENERATE, P.GENERATE, P.GenerateArgs(uri, fn.qualname)))
            (stubs if fn.is_stub else others).append(action)
    return fixes + stubs + repairs + others


def _diag_test(d: types.Diagnostic) -> str | None:
    data = d.data if isinstance(d.data, dict) else {}
    name = data.get("testQualname")
    return name if isinstance(name, str) else None


def hover_text(ls: VerifixServer, uri: str, pos: types.Position) -> str | None:
    if not _is_python(uri):
        return None
    doc = ls.workspace.get_text_document(uri)
    try:
        source = doc.source
    except OSError:
        return None
    line, col = positions.from_client(doc, source, pos)
    fn = pycode.function_at(source, line, col)
    if fn is None or line != fn.def_line:
        return None  # only on the `def` line: the body is the user's, not ours to talk over
    last = ls.results.get((uri, fn.qualname))
    if last is not None:
        return f"**verifix** — {edits.evidence_text(last)}"
    if fn.is_test:
        return f"**verifix** — code action *{P.TITLE_REPAIR}* fixes the code this test checks"
    if fn.is_stub:
        n = len(pycode.function_examples(fn))
        return (f"**verifix** — stub with {n} docstring example{'s' * (n != 1)}: code action "
                f"*{P.TITLE_GENERATE}*")
    return None
