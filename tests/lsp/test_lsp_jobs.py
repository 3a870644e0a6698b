"""The language server end to end over JSON-RPC: scripted model, real sandbox, both clients."""

from __future__ import annotations

import asyncio

import attrs
from lsprotocol import types

from tests.lsp.helpers import (
    GOOD,
    GOOD_2,
    apply_edits,
    as_dict,
    encoding_of,
    open_doc,
    script,
    start,
    wait_for,
)
from verifix.lsp import protocol as P

# Non-ASCII before and inside the function: positions must go through the client's encoding.
STUB = '''import math  # café ☕


def double(x):
    """Return x times two — «×2» 𝄞.

    >>> double(2)
    4

    Notes: «×2» 𝄞"""


def other(y):
    return y - 1
'''
DONE = STUB.replace('Notes: «×2» 𝄞"""\n', 'Notes: «×2» 𝄞"""\n    return x * 2\n')


def command(name: str, args) -> types.ExecuteCommandParams:
    return types.ExecuteCommandParams(command=name, arguments=[attrs.asdict(args)])


async def generate(client, uri: str, qualname: str = "double", msg_id: str | None = None):
    result = await client.protocol.send_request_async(
        types.WORKSPACE_EXECUTE_COMMAND, command(P.GENERATE, P.GenerateArgs(uri, qualname)),
        msg_id=msg_id)
    return P.JobOutcome(**(attrs.asdict(P.JobOutcome("", "", "")) | as_dict(result)))


def progress_kinds(client, token) -> list[str]:
    return [type(v).__name__ for v in client.progress_reports[token]]


def job_tokens(client) -> list:
    return [t for t, values in client.progress_reports.items()
            if values and getattr(values[0], "title", "").startswith("verifix: generate")]


async def test_generate_applies_the_exact_versioned_annotated_edit(project, client_name):
    client = await start(project, client_name, script([GOOD, GOOD_2]))
    try:
        uri = open_doc(client, project / "mod.py", STUB, version=7)
        outcome = await generate(client, uri)
        assert outcome.status == "verified" and outcome.applied, outcome
        assert len(client.edits) == 1
        edit = client.edits[0].edit
        assert edit.changes is None and len(edit.document_changes) == 1
        doc_edit = edit.document_changes[0]
        assert doc_edit.text_document.uri == uri and doc_edit.text_document.version == 7
        annotation = edit.change_annotations[P.ANNOTATION_ID]
        assert annotation.label == "verifix: verified by 1/1 checks"
        # Verified: applied in one step (confirmEdits is off by default), evidence attached.
        assert annotation.needs_confirmation is False and "agreement" in annotation.description
        assert all(e.annotation_id == P.ANNOTATION_ID for e in doc_edit.edits)
        # Only the lines that change: the body inserted after the docstring.
        (only,) = doc_edit.edits
        enc = encoding_of(client_name)
        assert (only.range.start.line, only.range.start.character) == (10, 0)
        assert (only.range.end.line, only.range.end.character) == (10, 0)
        assert only.new_text == "    return x * 2\n"
        assert apply_edits(STUB, doc_edit.edits, enc) == DONE
        # Progress: begin, reports with phases and percentages, end; cancellable.
        (token,) = job_tokens(client)
        values = client.progress_reports[token]
        kinds = progress_kinds(client, token)
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert kinds.count("WorkDoneProgressEnd") == 1 and "WorkDoneProgressReport" in kinds
        assert values[0].cancellable is True
        reports = [v for v in values if type(v).__name__ == "WorkDoneProgressReport"]
        assert any(r.message.startswith("probe") for r in reports)
        assert reports[-1].percentage == 100 and "verified" in values[-1].message
        # jobUpdate: queued -> running phases -> finished with the evidence.
        updates = [u for u in client.job_updates if u["jobId"] == outcome.jobId]
        assert updates[0]["state"] == "queued"
        assert any(u["phase"] == "probe" and u["state"] == "running" for u in updates)
        last = updates[-1]
        assert last["state"] == "finished" and last["status"] == "verified"
        assert last["applied"] is True and last["checksTotal"] == 1
        assert last["evidence"]["trusted_checks"] == {"passed": 1, "total": 1}
    finally:
        await client.shutdown_session()


async def test_user_typing_elsewhere_relocates_and_editing_the_function_refuses(
        project, client_name):
    client = await start(project, client_name,
                         script([GOOD + " pad" * 60, GOOD_2 + " pad" * 60] * 2, delay_s=0.01))
    try:
        uri = open_doc(client, project / "mod.py", STUB, version=1)
        job = asyncio.ensure_future(generate(client, uri))
        await wait_for(lambda: any(u["phase"] == "probe" for u in client.job_updates), 30,
                       "the job to start")
        # The user adds a line above the function while the model works.
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(1, 0), end=types.Position(1, 0)),
                text="# typed meanwhile\n")]))
        outcome = await job
        assert outcome.applied
        doc_edit = client.edits[-1].edit.document_changes[0]
        assert doc_edit.text_document.version == 2  # the text the edit was computed against
        typed = STUB.replace("\n\n\ndef double", "\n# typed meanwhile\n\n\ndef double", 1)
        assert doc_edit.edits[0].range.start.line == 11  # the body, one line further down
        assert apply_edits(typed, doc_edit.edits, encoding_of(client_name)) == DONE.replace(
            "\n\n\ndef double", "\n# typed meanwhile\n\n\ndef double", 1)

        # Now the user edits the function itself during the job: nothing is applied.
        before = len(client.edits)
        first_id = outcome.jobId
        job = asyncio.ensure_future(generate(client, uri))
        await wait_for(lambda: any(u["phase"] == "probe" and u["jobId"] != first_id
                                   for u in client.job_updates), 30, "the second job to start")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(4, 13), end=types.Position(4, 13)),
                text=": int")]))  # "def double(x: int):" - the function's own text changed
        outcome = await job
        assert not outcome.applied and "was edited" in outcome.reason
        assert len(client.edits) == before
    finally:
        await client.shutdown_session()


async def test_rejected_edit_changes_nothing_else(project, client_name):
    client = await start(project, client_name, script([GOOD, GOOD_2]), apply_ok=False)
    try:
        uri = open_doc(client, project / "mod.py", STUB)
        outcome = await generate(client, uri)
        assert outcome.status == "verified" and not outcome.applied
        assert outcome.reason == "user said no"
        assert len(client.edits) == 1  # asked once, no retry, no second edit
        assert (project / "mod.py").read_text(encoding="utf-8") == STUB
        assert client.job_updates[-1]["applied"] is False
    finally:
        await client.shutdown_session()


async def test_confirm_edits_asks_for_the_preview_and_says_how_to_use_it(project, client_name):
    client = await start(project, client_name, script([GOOD, GOOD_2]),
                         init_options={"confirmEdits": True})
    try:
        uri = open_doc(client, project / "mod.py", STUB)
        outcome = await generate(client, uri)
        assert outcome.status == "verified" and outcome.applied
        (params,) = client.edits
        assert params.edit.change_annotations[P.ANNOTATION_ID].needs_confirmation is True
        told = [m.message for m in client.messages if "preview" in m.message]
        if client_name == "visual_studio_code":  # it shows the change unticked in a preview
            assert told == ["verifix: review the edit of double in the preview: tick the change, "
                            "then Apply (it opens unticked)"]
        else:  # no change annotations: nothing to tell
            assert told == []
    finally:
        await client.shutdown_session()


async def test_two_jobs_queue_one_after_the_other(project, client_name):
    slow = script([GOOD + " pad" * 40, GOOD_2 + " pad" * 40], delay_s=0.01)
    client = await start(project, client_name, slow)
    try:
        uri = open_doc(client, project / "mod.py", STUB)
        first = asyncio.ensure_future(generate(client, uri))
        await wait_for(lambda: any(u["state"] == "running" for u in client.job_updates), 30,
                       "the first job to run")
        second = asyncio.ensure_future(generate(client, uri, "other"))
        await wait_for(lambda: len({u["jobId"] for u in client.job_updates}) == 2, 10,
                       "the second job's update")
        ids = list(dict.fromkeys(u["jobId"] for u in client.job_updates))
        queued = [u for u in client.job_updates if u["jobId"] == ids[1]][0]
        assert queued["state"] == "queued" and queued["position"] == 1
        assert "1 ahead" in queued["message"]
        a, b = await first, await second
        assert a.jobId == ids[0] and b.jobId == ids[1]
        # The second ran only after the first's worker was done (one model job at a time).
        order = [(u["jobId"], u["state"]) for u in client.job_updates]
        last_first = len(order) - 1 - order[::-1].index((ids[0], "running"))
        assert last_first < order.index((ids[1], "running"))
    finally:
        await client.shutdown_session()


CART = '''from prices import price_of


def total(lines):
    """The sum of the lines' prices; each line is "name: price"."""
    return sum(price_of(line) for line in lines)
'''
PRICES = '''def parse_amount(text):
    """The amount in a price text such as "3.50" or "2"."""
    return int(float(text))


def price_of(line):
    return parse_amount(line.split(":")[1].strip())
'''
CART_TESTS = '''from cart import total


def test_whole():
    assert total(["tea: 2", "jam: 3"]) == 5


def test_cents():
    assert total(["tea: 2.5", "jam: 1.25"]) == 3.75
'''


async def test_repair_fixing_a_helper_in_another_file_is_one_edit_of_that_file(project,
                                                                            client_name):
    for name, text in (("cart.py", CART), ("prices.py", PRICES), ("test_cart.py", CART_TESTS)):
        (project / name).write_text(text, encoding="utf-8")
    fix = "```python\ndef parse_amount(text):\n    return float(text)\n```"
    client = await start(project, client_name, script([fix]),
                         init_options={"pipeline": {"repairRewrites": False}})
    try:
        test_uri = open_doc(client, project / "test_cart.py", CART_TESTS)
        raw = await client.workspace_execute_command_async(
            command(P.REPAIR, P.RepairArgs(test_uri, "test_cents")))
        outcome = as_dict(raw)
        assert outcome["status"] == "verified" and outcome["applied"] is True, outcome
        (edit,) = client.edits
        (change,) = edit.edit.document_changes  # cart.py keeps its text: no edit for it
        assert change.text_document.uri.endswith("/prices.py")
        assert change.text_document.version is None  # not open: the file on disk
        fixed = apply_edits(PRICES, change.edits, encoding_of(client_name))
        assert fixed == PRICES.replace("return int(float(text))", "return float(text)")
        assert all(e.annotation_id == P.ANNOTATION_ID for e in change.edits)
    finally:
        await client.shutdown_session()


async def test_a_probe_that_passes_is_shown_at_once_but_only_the_final_answer_is_applied(
        project, client_name):
    client = await start(project, client_name, script([GOOD, GOOD_2], delay_s=0.02))
    try:
        uri = open_doc(client, project / "mod.py", STUB, version=1)
        job = asyncio.ensure_future(generate(client, uri))
        await wait_for(lambda: any(u["interim"] for u in client.job_updates), 30,
                       "the interim answer")
        (offer,) = [u for u in client.job_updates if u["interim"]]
        interim = as_dict(offer["interim"])
        assert interim["status"] == "plausible" and "return x * 2" in interim["code"]
        assert "1/1 trusted checks" in interim["message"] and offer["state"] == "running"
        assert client.edits == [] and not job.done()  # shown, never applied
        outcome = await job
        assert outcome.status == "verified" and outcome.applied and len(client.edits) == 1
        updates = [u for u in client.job_updates if u["jobId"] == outcome.jobId]
        assert sum(1 for u in updates if u["interim"]) == 1
        assert updates.index(offer) < len(updates) - 1 and updates[-1]["interim"] is None
    finally:
        await client.shutdown_session()
