"""Code actions and hover: listed from the syntax tree, the verified fixes and the last results
alone, never touching the model."""

from __future__ import annotations

import attrs
from lsprotocol import types
from pygls.uris import to_fs_path

from verifix import code as pycode
from verifix.lsp import edits, positions
from verifix.lsp import protocol as P
from verifix.lsp.commands import JobCommands
from verifix.lsp.context import Context
from verifix.lsp.fixes import Fixes


class CodeActions:
    def __init__(self, ctx: Context, jobs: JobCommands, fixes: Fixes) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.fixes = fixes

    def register(self) -> None:
        self.ctx.feature(types.TEXT_DOCUMENT_CODE_ACTION, self.code_actions,
                         types.CodeActionOptions(code_action_kinds=[
                             types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]))
        self.ctx.feature(types.TEXT_DOCUMENT_HOVER, self.hover)

    def _read(self, uri: str, pos: types.Position,
              ) -> tuple[int, pycode.FunctionInfo | None] | None:
        """(line, the function there) of a position in a Python document; None in any other."""
        if not uri.endswith((".py", ".pyi")):
            return None
        doc = self.ctx.server.workspace.get_text_document(uri)
        try:
            source = doc.source
        except OSError:
            return None
        line, col = positions.from_client(doc, source, pos)
        return line, pycode.function_at(source, line, col)

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        read = self._read(uri, params.range.start)
        if read is None:
            return []
        _line, fn = read
        fixes: list[types.CodeAction] = []
        stubs: list[types.CodeAction] = []
        repairs: list[types.CodeAction] = []
        others: list[types.CodeAction] = []
        ours = [d for d in params.context.diagnostics if d.source == P.DIAGNOSTIC_SOURCE]
        fn_path = to_fs_path(uri)
        for fix in self.fixes:
            on_test = fix.test_uri == uri and (
                (fn is not None and fn.qualname == fix.test_qualname)
                or any(_diag_test(d) == fix.test_qualname for d in ours))
            on_target = (fn is not None and fix.task.file == fn_path
                         and fn.qualname == fix.task.qualname)
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
                        command=_command(P.TITLE_REPAIR, P.REPAIR,
                                         P.RepairArgs(uri, fn.qualname))))
            else:
                action = types.CodeAction(
                    title=P.TITLE_GENERATE if fn.is_stub else f"{P.TITLE_GENERATE} (rewrite "
                    f"{fn.name})", kind=types.CodeActionKind.RefactorRewrite,
                    is_preferred=fn.is_stub or None,
                    command=_command(P.TITLE_GENERATE, P.GENERATE,
                                     P.GenerateArgs(uri, fn.qualname)))
                (stubs if fn.is_stub else others).append(action)
        return fixes + stubs + repairs + others

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        text = self._hover_text(params.text_document.uri, params.position)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=text))

    def _hover_text(self, uri: str, pos: types.Position) -> str | None:
        read = self._read(uri, pos)
        if read is None:
            return None
        line, fn = read
        if fn is None or line != fn.def_line:
            return None  # only on the `def` line: the body is the user's, not ours to talk over
        last = self.jobs.last_result(uri, fn.qualname)
        if last is not None:
            return f"**verifix** — {edits.evidence_text(last)}"
        if fn.is_test:
            return f"**verifix** — code action *{P.TITLE_REPAIR}* fixes the code this test checks"
        if fn.is_stub:
            n = len(pycode.function_examples(fn))
            return (f"**verifix** — stub with {n} docstring example{'s' * (n != 1)}: code "
                    f"action *{P.TITLE_GENERATE}*")
        return None


def _command(title: str, name: str, args: attrs.AttrsInstance) -> types.Command:
    return types.Command(title=title, command=name, arguments=[attrs.asdict(args)])


def _diag_test(d: types.Diagnostic) -> str | None:
    data = d.data if isinstance(d.data, dict) else {}
    name = data.get(P.DIAGNOSTIC_DATA_TEST)
    return name if isinstance(name, str) else None
