"""`verifix serve --tcp`: several editor windows share one process, one model, one job queue."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import attrs
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pytest_lsp import client_capabilities

from tests.lsp.helpers import GOOD, GOOD_2, as_dict, script
from tests.lsp.test_lsp_jobs import STUB, command
from verifix.lsp import protocol as P


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _window(port: int, root, name: str):
    client = LanguageClient(name, "1")
    client.statuses = []  # type: ignore[attr-defined]
    client.loads = 0  # type: ignore[attr-defined]

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create(_p):
        return None

    @client.feature(types.PROGRESS)
    def progress(p):
        value = p.value if isinstance(p.value, dict) else as_dict(p.value)
        if value.get("title") == "verifix: loading the model":
            client.loads += 1  # type: ignore[attr-defined]

    @client.feature(types.WORKSPACE_CONFIGURATION)
    def configuration(p):
        return [None for _ in p.items]

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(_p):
        return types.ApplyWorkspaceEditResult(applied=True)

    @client.feature(P.STATUS_NOTIFICATION)
    def status(p):
        client.statuses.append(as_dict(p).get("state"))  # type: ignore[attr-defined]

    for method in (P.JOB_UPDATE_NOTIFICATION, types.WINDOW_SHOW_MESSAGE,
                   types.WINDOW_LOG_MESSAGE, types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):
        client.feature(method)(lambda *_a: None)
    await client.start_tcp("127.0.0.1", port)
    await client.initialize_async(types.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"), root_uri=root.as_uri(),
        process_id=os.getpid()))
    client.initialized(types.InitializedParams())
    return client


async def _ready(client, timeout=30.0):
    deadline = time.monotonic() + timeout
    while "ready" not in client.statuses:
        assert time.monotonic() < deadline, client.statuses
        await asyncio.sleep(0.05)


async def test_two_windows_share_one_model_and_one_exit_ends_only_its_window(project,
                                                                             tmp_path):
    spec = tmp_path / "engine.json"
    spec.write_text(json.dumps(script([GOOD, GOOD_2], load_delay_s=1.0)), encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "verifix", "serve", "--tcp",
                             f"127.0.0.1:{port}"], env=dict(os.environ, **{
                                 P.TEST_ENGINE_ENV: str(spec)}), stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        a = await _window(port, project, "window-a")
        b = await _window(port, project, "window-b")
        await _ready(a)
        await _ready(b)
        assert a.loads + b.loads == 1  # the model loaded once for both windows
        await a.shutdown_async(None)
        a.exit(None)
        await a.stop()
        await asyncio.sleep(0.3)
        assert proc.poll() is None  # the other window keeps its server
        path = project / "mod.py"
        path.write_text(STUB, encoding="utf-8")
        b.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=path.as_uri(), language_id="python",
                                                 version=1, text=STUB)))
        outcome = await b.workspace_execute_command_async(command(
            P.GENERATE, P.GenerateArgs(path.as_uri(), "double")))
        outcome = attrs.asdict(P.JobOutcome("", "", "")) | as_dict(outcome)
        assert outcome["status"] == "verified" and outcome["applied"] is True
        await b.shutdown_async(None)
        b.exit(None)
        await b.stop()
    finally:
        proc.terminate()
        proc.wait(10)


def test_tcp_refuses_a_non_loopback_address():
    done = subprocess.run([sys.executable, "-m", "verifix", "serve", "--tcp", "0.0.0.0:2087"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "verifix: --tcp accepts loopback addresses only (127.0.0.1, ::1, localhost), got "
        "'0.0.0.0'; to reach another machine, tunnel over SSH"]
