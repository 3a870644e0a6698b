"""One end to end run: the real server, the real embedded model, the real sandbox, from
initialize to an applied verified edit (minutes on 2 CPU cores)."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

from tests.lsp.helpers import apply_edits, open_doc, start, wait_ready
from tests.lsp.test_lsp_jobs import command
from verifix.lsp import protocol as P

SOURCE = '''import math  # café


def restock_needed(levels, threshold):
    """Names whose level is below the threshold, sorted.

    >>> restock_needed({"apples": 3, "pears": 10, "figs": 1}, 5)
    ['apples', 'figs']
    """
    ...
'''


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_real_model_generates_a_verified_edit(project, real_model_path, sandbox):
    client = await start(project, "visual_studio_code", None,
                         init_options={"pipeline": {"candidates": 3, "timeBudget": 400}})
    try:
        await wait_ready(client, 600)
        assert client.statuses[-1]["state"] == "ready", client.statuses[-1]
        uri = open_doc(client, project / "inventory.py", SOURCE, version=3)
        outcome = await client.workspace_execute_command_async(
            command(P.GENERATE, P.GenerateArgs(uri, "restock_needed")))
        assert outcome["status"] == "verified", outcome
        assert outcome["applied"] is True
        (edit,) = client.edits
        doc_edit = edit.edit.document_changes[0]
        assert doc_edit.text_document.version == 3
        assert edit.edit.change_annotations[P.ANNOTATION_ID].label == (
            "verifix: verified by 1/1 checks")
        # Only lines of the function change (the stub's `...` on line 9 among them).
        assert doc_edit.edits and all(e.range.start.line >= 3 for e in doc_edit.edits)
        assert any(e.range.start.line <= 9 < e.range.end.line for e in doc_edit.edits)
        new_text = apply_edits(SOURCE, doc_edit.edits, "utf-16")
        assert new_text.startswith(
            "import math  # café\n\n\ndef restock_needed(levels, threshold):")
        assert '>>> restock_needed({"apples": 3, "pears": 10, "figs": 1}, 5)' in new_text
        # The document as edited does what its docstring promises (checked again, here).
        report = sandbox.run_checks(new_text, [
            'assert restock_needed({"apples": 3, "pears": 10, "figs": 1}, 5) == '
            '["apples", "figs"]',
            "assert restock_needed({}, 3) == []",
        ])
        assert report.passed, report.results
        kinds = [type(v).__name__ for values in client.progress_reports.values()
                 for v in values]
        assert kinds.count("WorkDoneProgressBegin") == kinds.count("WorkDoneProgressEnd") == 2
    finally:
        await client.shutdown_session()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_every_request_sent_while_the_real_model_loads_is_answered(project,
                                                                         real_model_path):
    """llama-cpp-python points fd 1 at /dev/null while it loads a model: an answer written to
    stdout then was lost, and the editor waited for it forever."""
    client = await start(project, "visual_studio_code", None)
    try:
        uri = open_doc(client, project / "inventory.py", SOURCE)
        pos = types.Position(9, 4)
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=pos, end=pos), context=types.CodeActionContext(diagnostics=[]))
        sent = 0
        while not any(s["state"] == "ready" for s in client.statuses) and sent < 5000:
            actions = await asyncio.wait_for(client.text_document_code_action_async(params), 30)
            assert [a.title for a in actions] == [P.TITLE_GENERATE]
            sent += 1
        assert client.statuses[-1]["state"] == "ready", client.statuses[-1]
        assert any(s["state"] == "loading" for s in client.statuses)
        assert sent > 1, "the model loaded before a request could be sent during the load"
    finally:
        await client.shutdown_session()
