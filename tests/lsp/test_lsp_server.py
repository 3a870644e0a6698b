"""Start-up, code actions, hover, configuration and bad input, over JSON-RPC."""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcMethodNotFound

from tests.lsp.helpers import GOOD, GOOD_2, open_doc, script, start, wait_for, wait_ready
from tests.lsp.test_lsp_jobs import STUB, command, generate
from verifix.lsp import protocol as P

TESTS = '''from mod import double


def test_double():
    assert double(2) == 4
'''


async def actions(client, uri: str, line: int, character: int = 4):
    pos = types.Position(line, character)
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=pos, end=pos),
        context=types.CodeActionContext(diagnostics=[])))


async def test_initialize_answers_at_once_and_the_model_loads_in_the_background(
        project, client_name):
    client = await start(project, client_name, script([GOOD], load_delay_s=5))
    try:
        # Ordering, not timing (the machine is shared): initialize is answered while the
        # model is still loading. Speed is measured by `verifix bench lsp`.
        assert not any(s["state"] == "ready" for s in client.statuses)
        await wait_ready(client, 30)
        states = [s["state"] for s in client.statuses]
        assert states[0] == "loading" and states[-1] == "ready"
        load = [t for t, v in client.progress_reports.items()
                if v and getattr(v[0], "title", "") == "verifix: loading the model"]
        assert len(load) == 1
        kinds = [type(v).__name__ for v in client.progress_reports[load[0]]]
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    finally:
        await client.shutdown_session()


async def test_code_actions_are_listed_without_the_model(project, client_name):
    # The model "loads" for a minute: listing must not wait for it.
    client = await start(project, client_name, script([GOOD], load_delay_s=60))
    try:
        uri = open_doc(client, project / "mod.py", STUB)
        test_uri = open_doc(client, project / "test_mod.py", TESTS)
        other_uri = open_doc(client, project / "notes.txt", "def double(x):\n    ...\n")
        t0 = time.perf_counter()
        on_stub = await actions(client, uri, 4)
        assert time.perf_counter() - t0 < 30  # far less than the 60 s load: not waited for
        await wait_for(lambda: client.statuses, 5, "a status")
        assert client.statuses[-1]["state"] == "loading"
        assert [a.title for a in on_stub] == [P.TITLE_GENERATE]
        assert on_stub[0].is_preferred is True
        assert on_stub[0].command.command == P.GENERATE
        assert list(on_stub[0].command.arguments) == [{"uri": uri, "qualname": "double"}]
        on_normal = await actions(client, uri, 13)
        assert [a.title for a in on_normal] == [f"{P.TITLE_GENERATE} (rewrite other)"]
        assert not on_normal[0].is_preferred
        on_test = await actions(client, test_uri, 4)
        assert [(a.title, a.command.command) for a in on_test] == [(P.TITLE_REPAIR, P.REPAIR)]
        assert list(on_test[0].command.arguments) == [{"uri": test_uri, "qualname": "test_double"}]
        assert not await actions(client, uri, 0)  # the import line: no function
        assert not await actions(client, other_uri, 0)  # not Python
    finally:
        await client.shutdown_session()


async def test_hover_says_what_verifix_can_do(project, client_name):
    client = await start(project, client_name, script([GOOD]))
    try:
        uri = open_doc(client, project / "mod.py", STUB)
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(3, 5)))
        assert "1 docstring example" in hover.contents.value
        none = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 2)))
        assert none is None
    finally:
        await client.shutdown_session()


async def test_a_model_that_fails_to_load_is_reported_and_the_rest_keeps_working(
        project, client_name):
    client = await start(project, client_name,
                         script([GOOD], load_error="no such file: model.gguf"))
    try:
        await wait_ready(client)
        last = client.statuses[-1]
        assert last["state"] == "error" and "no such file" in last["message"]
        assert "verifix doctor" in last["remedy"]
        await wait_for(lambda: client.messages, 5, "a window/showMessage")
        shown = client.messages[-1]
        assert shown.type == types.MessageType.Error and "could not load" in shown.message
        uri = open_doc(client, project / "mod.py", STUB)
        assert [a.title for a in await actions(client, uri, 4)] == [P.TITLE_GENERATE]
        outcome = await generate(client, uri)
        assert outcome.status == "error" and "could not load" in outcome.message
        assert client.edits == []
    finally:
        await client.shutdown_session()


async def test_bad_requests_and_invalid_settings_leave_the_server_running(project,
                                                                          client_name):
    client = await start(project, client_name, script([GOOD, GOOD_2]),
                         init_options={"pipeline": {"candidates": 3}})
    try:
        await wait_ready(client)
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=P.STATUS))
        assert status["settings"]["pipeline"]["candidates"] == 3
        with pytest.raises(JsonRpcMethodNotFound):
            await client.protocol.send_request_async("verifix/noSuchMethod", {"x": 1})
        with pytest.raises(JsonRpcInvalidParams):
            await client.workspace_execute_command_async(types.ExecuteCommandParams(
                command=P.GENERATE, arguments=[{"uri": 42}]))
        with pytest.raises(JsonRpcInvalidParams):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="verifix.noSuchCommand"))
        outcome = await client.workspace_execute_command_async(command(
            P.GENERATE, P.GenerateArgs((project / "missing.py").as_uri(), "f")))
        assert outcome["status"] == "error"
        # An invalid value is reported; the previous one stays.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"verifix": {"pipeline": {"candidates": "many"}, "onSave": False}}))
        await wait_for(lambda: any("invalid settings" in m.message for m in client.messages),
                       5, "the settings error")
        message = [m for m in client.messages if "invalid settings" in m.message][-1]
        assert "pipeline.candidates" in message.message
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=P.STATUS))
        assert status["settings"]["pipeline"]["candidates"] == 3
        assert status["settings"]["onSave"] is True  # the whole bad update was refused
        # A valid change lands (pulled through workspace/configuration).
        client.set_configuration({"pipeline": {"candidates": 5}}, section=P.CONFIG_SECTION)
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings=None))
        await asyncio.sleep(0.5)
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=P.STATUS))
        assert status["settings"]["pipeline"]["candidates"] == 5
        uri = open_doc(client, project / "mod.py", STUB)
        assert [a.title for a in await actions(client, uri, 4)] == [P.TITLE_GENERATE]
    finally:
        await client.shutdown_session()
