"""The shared server: several editor windows share one process, one model, one job queue, and
only the user who started it can reach it (a 0600 UNIX socket; a TCP token in a 0600 file)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pytest_lsp import client_capabilities

from tests.lsp.helpers import GOOD, GOOD_2, as_dict, script
from tests.lsp.test_lsp_jobs import STUB, command
from verifix.lsp import protocol as P
from verifix.lsp.serve import default_socket, token_file


@pytest.fixture
def runtime(tmp_path, monkeypatch) -> Path:
    """A private runtime directory for the server and for the paths the test computes."""
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _window(port: int, root, name: str, token: str):
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
        process_id=os.getpid(), initialization_options={P.TOKEN_OPTION: token}))
    client.initialized(types.InitializedParams())
    return client


async def _ready(client, timeout=30.0):
    deadline = time.monotonic() + timeout
    while "ready" not in client.statuses:
        assert time.monotonic() < deadline, client.statuses
        await asyncio.sleep(0.05)


def _serve(tmp_path, *args: str) -> subprocess.Popen:
    spec = tmp_path / "engine.json"
    spec.write_text(json.dumps(script([GOOD, GOOD_2], load_delay_s=1.0)), encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "verifix", "serve", *args],
                            env=dict(os.environ, **{P.TEST_ENGINE_ENV: str(spec)}),
                            stderr=subprocess.PIPE)


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    for _ in range(200):
        if path.exists():
            return
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


async def test_two_windows_share_one_model_and_one_exit_ends_only_its_window(project,
                                                                             tmp_path, runtime):
    port = _free_port()
    proc = _serve(tmp_path, "--tcp", f"127.0.0.1:{port}")
    try:
        _wait_for(token_file(port), proc)
        token = token_file(port).read_text().strip()
        a = await _window(port, project, "window-a", token)
        b = await _window(port, project, "window-b", token)
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
    assert not token_file(port).exists()  # the token goes with the server


async def _send(writer, message: dict) -> None:
    body = json.dumps(message).encode()
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()


async def _answer(reader, msg_id: int, timeout: float = 10.0) -> dict | None:
    """The response with `msg_id`, skipping what else the server sends; None when the server
    closes the connection first."""
    async def read() -> dict | None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return None
            length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
            message = json.loads(await reader.readexactly(length))
            if message.get("id") == msg_id and "method" not in message:
                return message
    return await asyncio.wait_for(read(), timeout)


def _initialize(root: Path, options: dict | None) -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {},
        "initializationOptions": options}}


async def test_tcp_needs_the_token_before_anything_is_handled(project, tmp_path, runtime):
    port = _free_port()
    proc = _serve(tmp_path, "--tcp", f"127.0.0.1:{port}")
    try:
        _wait_for(token_file(port), proc)
        assert stat.S_IMODE(token_file(port).stat().st_mode) == 0o600
        token = token_file(port).read_text().strip()
        assert len(token) >= 32
        tries = [
            {"jsonrpc": "2.0", "id": 1, "method": "shutdown"},  # not an initialize
            _initialize(project, None),
            _initialize(project, {P.TOKEN_OPTION: token[:-1] + "x"}),
            _initialize(project, {P.TOKEN_OPTION: 12345}),
        ]
        for message in tries:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await _send(writer, message)
            assert await _answer(reader, 1) is None, message  # closed, never answered
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # garbage first: closed too
        assert await reader.read() == b""
        writer.close()
        # The right token, with settings beside it: answered, and the settings still apply.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await _send(writer, _initialize(project, {P.TOKEN_OPTION: token, "sandbox": {
            "timeout": 7}}))
        answer = await _answer(reader, 1)
        assert answer is not None and answer["result"]["serverInfo"]["name"] == "verifix"
        writer.close()
        assert proc.poll() is None
        # A second server on the port refuses in one line and leaves the first one's token.
        second = subprocess.run([sys.executable, "-m", "verifix", "serve", "--tcp",
                                 f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip() == (f"verifix: cannot listen on 127.0.0.1:{port}: "
                                         "Address already in use")
        assert token_file(port).read_text().strip() == token
    finally:
        proc.terminate()
        proc.wait(10)


async def test_a_unix_socket_only_its_user_can_open(project, tmp_path, runtime):
    proc = _serve(tmp_path, "--socket")
    path = default_socket()
    assert path.parent == runtime / "verifix"
    try:
        _wait_for(path, proc)
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for _ in range(2):  # two windows, no token needed
            reader, writer = await asyncio.open_unix_connection(str(path))
            await _send(writer, _initialize(project, None))
            answer = await _answer(reader, 1)
            assert answer is not None and "result" in answer
            writer.close()
        # A second server on the same socket refuses, in one line, and leaves the first alone.
        second = subprocess.run([sys.executable, "-m", "verifix", "serve", "--socket"],
                                capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert second.returncode == 2
        assert second.stderr.strip() == f"verifix: a server already listens on {path}"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
    assert not path.exists()
    # A stale socket (its server killed) is replaced.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    proc = _serve(tmp_path, "--socket", str(path))
    try:
        for _ in range(100):
            try:
                socket.socket(socket.AF_UNIX).connect(str(path))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("the server did not replace the stale socket")
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


def test_the_runtime_dir_is_closed_to_others_or_refused(runtime):
    from verifix.lsp.serve import ServeError, runtime_dir

    (runtime / "verifix").mkdir(mode=0o755)
    (runtime / "verifix").chmod(0o755)
    assert runtime_dir() == runtime / "verifix"
    assert stat.S_IMODE((runtime / "verifix").stat().st_mode) == 0o700
    (runtime / "verifix").rmdir()
    elsewhere = runtime.parent / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (runtime / "verifix").symlink_to(elsewhere)
    with pytest.raises(ServeError, match="must be a directory of yours"):
        runtime_dir()
