"""On save: failing related tests become diagnostics, a background repair offers a verified fix,
applying it and saving clears the diagnostics; changes outside the editor are noticed."""

from __future__ import annotations

import asyncio

from lsprotocol import types

from tests.lsp.helpers import apply_edits, encoding_of, open_doc, start, wait_for, wait_ready
from tests.lsp.test_lsp_jobs import command
from verifix.lsp import protocol as P

MOD = "def add(a, b):\n    return a - b\n"
TESTS = '''from mod import add


def test_add():
    assert add(1, 2) == 3


def test_zero():
    assert add(0, 0) == 0
'''
FIXED = "```python\ndef add(a, b):\n    return a + b\n```"


async def test_failing_test_on_save_gets_a_diagnostic_a_fix_and_is_cleared(project,
                                                                          client_name):
    spec = {"default": [FIXED]}
    client = await start(project, client_name, spec)
    try:
        await wait_ready(client)
        mod_uri = open_doc(client, project / "mod.py", MOD)
        test_uri = open_doc(client, project / "test_mod.py", TESTS)
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=mod_uri)))
        await wait_for(lambda: client.diagnostics.get(test_uri), 60, "the test diagnostic")
        (diag,) = client.diagnostics[test_uri]
        assert diag.source == P.DIAGNOSTIC_SOURCE and diag.code == P.DIAGNOSTIC_CODE_TEST_FAILED
        assert diag.range.start.line == 3 and "test_add failed" in diag.message
        assert "assert" in diag.message
        # The background repair finds a verified fix; it is offered, never applied by itself.
        await wait_for(lambda: any(u["kind"] == "repair" and u["status"] == "verified"
                                   for u in client.job_updates), 60, "the background repair")
        assert client.edits == []
        listed = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=test_uri), range=diag.range,
            context=types.CodeActionContext(diagnostics=[diag])))
        assert listed[0].title.startswith(P.TITLE_APPLY_FIX) and listed[0].is_preferred
        assert listed[0].diagnostics[0].message == diag.message
        assert any(a.title.startswith(P.TITLE_REPAIR) for a in listed)
        fix_cmd = listed[0].command
        outcome = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=fix_cmd.command, arguments=fix_cmd.arguments))
        assert outcome["applied"] is True
        (edit,) = client.edits
        doc_edit = edit.edit.document_changes[0]
        assert doc_edit.text_document.uri == mod_uri and doc_edit.text_document.version == 1
        assert edit.edit.change_annotations[P.ANNOTATION_ID].label == (
            "verifix: verified by 2/2 checks")
        fixed = apply_edits(MOD, doc_edit.edits, encoding_of(client_name))
        assert fixed == "def add(a, b):\n    return a + b\n"
        # The editor applies and saves it: the diagnostic goes away.
        (project / "mod.py").write_text(fixed, encoding="utf-8")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=mod_uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=mod_uri)))
        await wait_for(lambda: len(client.diagnostics.get(test_uri, [None])) == 0, 60,
                       "the diagnostic to clear")
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=P.STATUS))
        assert status.get("fixes", []) == []
        stale = await client.workspace_execute_command_async(
            command(P.APPLY_FIX, P.ApplyFixArgs(outcome["fixId"])))
        assert stale["status"] == "error" and len(client.edits) == 1
    finally:
        await client.shutdown_session()


async def test_a_change_outside_the_editor_runs_the_tests(project, client_name):
    client = await start(project, client_name, {"default": ["no code"]},
                         init_options={"pipeline": {"repair": False}})
    try:
        await wait_ready(client)
        (project / "test_mod.py").write_text(TESTS, encoding="utf-8")
        (project / "mod.py").write_text(MOD, encoding="utf-8")  # e.g. git checkout
        test_uri = (project / "test_mod.py").as_uri()
        await wait_for(lambda: client.diagnostics.get(test_uri), 60, "the test diagnostic")
        assert [d.range.start.line for d in client.diagnostics[test_uri]] == [3]
        (project / "mod.py").write_text(MOD.replace("a - b", "a + b"), encoding="utf-8")
        await wait_for(lambda: len(client.diagnostics.get(test_uri, [None])) == 0, 60,
                       "the diagnostic to clear")
    finally:
        await client.shutdown_session()


async def test_tests_that_cannot_run_are_said_once_not_on_every_save(project, client_name):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")],
                   check=True)
    client = await start(project, client_name, {"default": [FIXED]},
                         init_options={"python": ".venv/bin/python"},
                         env_overrides={"VERIFIX_PYTHON": ""})  # the environment would win
    try:
        await wait_ready(client)
        mod_uri = open_doc(client, project / "mod.py", MOD)
        open_doc(client, project / "test_mod.py", TESTS)
        (project / "mod.py").write_text(MOD, encoding="utf-8")
        (project / "test_mod.py").write_text(TESTS, encoding="utf-8")
        python = project / ".venv" / "bin" / "python"
        expected = ("verifix: could not run the tests on save: pytest is not installed for "
                    f"{python}: run `{python} -m pip install pytest`")
        for _ in range(2):
            client.text_document_did_save(types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=mod_uri)))
            await wait_for(lambda: any(m.message == expected for m in client.messages), 60,
                           "the one-line warning")
        await asyncio.sleep(1.0)
        assert [m.message for m in client.messages].count(expected) == 1
        assert client.diagnostics.get(project.as_uri() + "/test_mod.py") in (None, [])
    finally:
        await client.shutdown_session()


def _save(client, uri: str, path, text: str, version: int) -> None:
    """The editor changes the buffer to `text` and saves it."""
    path.write_text(text, encoding="utf-8")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))


def _repairs(client, status: str | None = None) -> list[dict]:
    """The last word of each finished repair job."""
    last = {u["jobId"]: u for u in client.job_updates
            if u["kind"] == "repair" and u["phase"] == "done" and u["status"] is not None}
    return [u for u in last.values() if status is None or u["status"] == status]


async def _open_and_save(client, project) -> str:
    """Once the model is ready: the buggy module and its tests open, the module saved."""
    await wait_ready(client)
    mod_uri = open_doc(client, project / "mod.py", MOD)
    open_doc(client, project / "test_mod.py", TESTS)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=mod_uri)))
    return mod_uri


async def _fix_ids(client) -> list[str]:
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=P.STATUS))
    return list(status.get("fixes", []))


async def test_a_fix_made_from_code_that_changed_is_dropped_and_the_repair_runs_again(
        project, client_name):
    client = await start(project, client_name, {"default": [FIXED]})
    try:
        mod_uri = await _open_and_save(client, project)
        await wait_for(lambda: _repairs(client, "verified"), 60, "the first fix")
        (first,) = await _fix_ids(client)
        # Another bug the same test catches: the fix was verified against code that is gone.
        _save(client, mod_uri, project / "mod.py", MOD.replace("a - b", "a * b"), 2)
        await wait_for(lambda: len(_repairs(client, "verified")) == 2, 60, "the second fix")
        (second,) = await _fix_ids(client)
        assert second != first
        stale = await client.workspace_execute_command_async(
            command(P.APPLY_FIX, P.ApplyFixArgs(first)))
        assert stale["status"] == "error" and client.edits == []
        outcome = await client.workspace_execute_command_async(
            command(P.APPLY_FIX, P.ApplyFixArgs(second)))
        assert outcome["applied"] is True
        doc_edit = client.edits[0].edit.document_changes[0]
        assert doc_edit.text_document.version == 2
        assert apply_edits(MOD.replace("a - b", "a * b"), doc_edit.edits,
                           encoding_of(client_name)) == "def add(a, b):\n    return a + b\n"
    finally:
        await client.shutdown_session()


async def test_a_repair_running_when_its_code_changes_stops_and_starts_on_the_new_code(
        project, client_name):
    # Slow enough that the save below lands while the first repair is at work.
    client = await start(project, client_name, {"default": [FIXED], "delay_s": 0.3})
    try:
        mod_uri = await _open_and_save(client, project)
        # The repair has read the code once the pipeline reports a phase of its own.
        await wait_for(lambda: any(u["kind"] == "repair" and u["phase"] not in ("", "task")
                                   for u in client.job_updates), 60, "the repair at work")
        first_job = next(u["jobId"] for u in client.job_updates if u["kind"] == "repair")
        changed = MOD.replace("a - b", "a * b")
        _save(client, mod_uri, project / "mod.py", changed, 2)
        await wait_for(lambda: _repairs(client, "verified"), 90, "the repair of the new code")
        (done_first,) = [u for u in _repairs(client) if u["jobId"] == first_job]
        assert done_first["status"] == "error" and "cancelled" in done_first["message"]
        (fix_id,) = await _fix_ids(client)
        outcome = await client.workspace_execute_command_async(
            command(P.APPLY_FIX, P.ApplyFixArgs(fix_id)))
        assert outcome["applied"] is True
        doc_edit = client.edits[0].edit.document_changes[0]
        assert apply_edits(changed, doc_edit.edits, encoding_of(client_name)) == (
            "def add(a, b):\n    return a + b\n")
    finally:
        await client.shutdown_session()


async def test_the_same_test_id_in_two_projects_keeps_two_diagnostics(project, tmp_path,
                                                                     client_name):
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text("[project]\nname = 'other'\n", encoding="utf-8")
    client = await start(project, client_name, {"default": ["no code"]},
                         init_options={"pipeline": {"repair": False}})
    try:
        await wait_ready(client)
        uris = {}
        for root in (project, other):
            uris[root] = (open_doc(client, root / "mod.py", MOD),
                          open_doc(client, root / "test_mod.py", TESTS))
        for root in (project, other):  # one burst: save all
            client.text_document_did_save(types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uris[root][0])))
        for root in (project, other):
            await wait_for(lambda r=root: client.diagnostics.get(uris[r][1]), 60,
                           f"the diagnostic in {root.name}")
        # Fixed in the other project only: this project's test still fails, and says so.
        _save(client, uris[other][0], other / "mod.py", MOD.replace("a - b", "a + b"), 2)
        await wait_for(lambda: len(client.diagnostics.get(uris[other][1], [None])) == 0, 60,
                       "the other project's diagnostic to clear")
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uris[other][0])))
        await asyncio.sleep(1.5)
        assert [d.range.start.line for d in client.diagnostics[uris[project][1]]] == [3]
    finally:
        await client.shutdown_session()
