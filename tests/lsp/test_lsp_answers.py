"""No request is ever lost: every kind of request the server handles is answered (a result or
an error) while the model loads, while a job runs, while on-save tests run and while a job is
being cancelled. (The real model's load, which once swallowed answers, is covered in
test_lsp_real_model.py.)"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from tests.lsp.helpers import GOOD, open_doc, script, start, wait_for
from tests.lsp.test_lsp_jobs import STUB, command
from tests.lsp.test_lsp_onsave import MOD, TESTS
from verifix.lsp import protocol as P

SLOW = GOOD + " pad" * 400  # a few seconds of scripted tokens


async def burst(client, mod_uri: str, test_uri: str) -> int:
    """One request of every kind, all at once; each must be answered within 15 s."""
    here = types.Position(0, 4)
    span = types.Range(start=here, end=here)

    def action(uri: str) -> types.CodeActionParams:
        return types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                      range=span, context=types.CodeActionContext(diagnostics=[]))

    requests = [
        client.text_document_code_action_async(action(mod_uri)),
        client.text_document_code_action_async(action(test_uri)),
        client.workspace_execute_command_async(types.ExecuteCommandParams(command=P.STATUS)),
        client.workspace_execute_command_async(
            command(P.CANCEL, P.CancelArgs(jobId="no-such-job"))),
        client.protocol.send_request_async("verifix/noSuchMethod", {}),
        client.protocol.send_request_async(types.TEXT_DOCUMENT_HOVER, types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=mod_uri), position=here)),
    ]
    answered = 0
    for request in requests:
        try:
            await asyncio.wait_for(request, 15)
        except asyncio.TimeoutError:
            raise AssertionError("a request was never answered") from None
        except Exception:  # noqa: BLE001 - an error response is an answer
            pass
        answered += 1
    return answered


async def test_every_kind_of_request_is_answered_in_every_phase(project):
    spec = script([SLOW, GOOD], delay_s=0.005, load_delay_s=3.0)
    client = await start(project, "visual_studio_code", spec,
                         init_options={"sandbox": {"timeout": 30}})
    try:
        mod_uri = open_doc(client, project / "mod.py", MOD + "\n\n" + STUB)
        test_uri = open_doc(client, project / "test_mod.py", TESTS)
        answered = 0
        # 1. While the model loads.
        assert not any(s["state"] == "ready" for s in client.statuses)
        answered += await burst(client, mod_uri, test_uri)
        assert not any(s["state"] == "ready" for s in client.statuses), "loaded too soon"
        await wait_for(lambda: any(s["state"] == "ready" for s in client.statuses), 30, "load")
        # 2. While a job runs.
        job = asyncio.ensure_future(client.workspace_execute_command_async(
            command(P.GENERATE, P.GenerateArgs(mod_uri, "double"))))
        await wait_for(lambda: any(u["phase"] == "probe" for u in client.job_updates), 30,
                       "the job to start")
        for _ in range(3):
            answered += await burst(client, mod_uri, test_uri)
        # 3. While a job is being cancelled.
        job_id = client.job_updates[-1]["jobId"]
        cancel = asyncio.ensure_future(client.workspace_execute_command_async(
            command(P.CANCEL, P.CancelArgs(jobId=job_id))))
        answered += await burst(client, mod_uri, test_uri)
        await asyncio.wait_for(cancel, 15)
        await asyncio.wait_for(job, 15)
        # 4. While the on-save tests run (and the repair that follows them).
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=mod_uri)))
        while not client.diagnostics.get(test_uri):
            answered += await burst(client, mod_uri, test_uri)
        answered += await burst(client, mod_uri, test_uri)
        assert answered >= 6 * 7
    finally:
        await client.shutdown_session()
