"""Cancel by each route: the model stops, the sandbox run is killed, the progress ends, no edit."""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.lsp.helpers import (
    GOOD,
    descendants,
    open_doc,
    script,
    server_pid,
    start,
    wait_for,
)
from tests.lsp.test_lsp_jobs import STUB, command, job_tokens
from verifix.lsp import protocol as P

# A probe that hangs in the sandbox: cancelling must kill the run, not wait for it.
HANGS = "```python\ndef double(x):\n    import time\n    time.sleep(60)\n    return x * 2\n```"
LONG = GOOD + " pad" * 3000  # about 30 s of scripted tokens


async def _cancel(client, route: str, request_id: str, job_id: str, token) -> None:
    if route == "request":
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=request_id))
    elif route == "progress":
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    else:
        await client.workspace_execute_command_async(
            command(P.CANCEL, P.CancelArgs(jobId=job_id)))


@pytest.mark.parametrize("route", ["request", "progress", "command"])
@pytest.mark.parametrize("where", ["model", "sandbox"])
async def test_cancel_stops_everything(project, client_name, route, where):
    spec = script([LONG] if where == "model" else [HANGS], delay_s=0.01)
    client = await start(project, client_name, spec,
                         init_options={"sandbox": {"timeout": 60}})
    try:
        uri = open_doc(client, project / "mod.py", STUB)
        request_id = f"gen-{route}-{where}"
        job = asyncio.ensure_future(client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND,
            command(P.GENERATE, P.GenerateArgs(uri, "double")), msg_id=request_id))
        pid = server_pid(client)
        if where == "model":
            await wait_for(lambda: any(u["phase"] == "probe" for u in client.job_updates), 30,
                           "the model to start")
            await asyncio.sleep(0.3)
        else:
            # The probe is written; its check now sleeps inside the sandbox.
            await wait_for(lambda: len(descendants(pid)) > 0 and any(
                u["phase"] == "probe" for u in client.job_updates), 30, "the sandbox run")
            await asyncio.sleep(1.0)
            assert descendants(pid), "the sandbox run should be under way"
        (token,) = job_tokens(client)
        job_id = client.job_updates[0]["jobId"]
        cancelled_at = time.monotonic()
        await _cancel(client, route, request_id, job_id, token)
        await wait_for(lambda: type(client.progress_reports[token][-1]).__name__
                       == "WorkDoneProgressEnd", 10, "the progress to end")
        took = time.monotonic() - cancelled_at
        assert took < 5, f"cancel took {took:.1f} s"
        assert "cancelled" in client.progress_reports[token][-1].message
        if route == "request":
            with pytest.raises(JsonRpcRequestCancelled):
                await job
        else:
            outcome = await job
            status = outcome["status"] if isinstance(outcome, dict) else outcome.status
            assert status == "error"
        await wait_for(lambda: not descendants(pid), 5, "the sandbox processes to go")
        assert client.edits == []
        final = [u for u in client.job_updates if u["jobId"] == job_id][-1]
        assert final["state"] == "cancelled" and final["status"] == "error"
        # The server still works afterwards.
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=P.STATUS))
        assert status is not None
    finally:
        await client.shutdown_session()
