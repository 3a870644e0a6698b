"""The editor side of `verifix bench lsp`: a real LSP client that starts `verifix serve`, keeps a
model job running and times textDocument/codeAction and textDocument/hover meanwhile; for the
on-save case (`onsave_task`) it saves a module with a failing test and times the diagnostic and
the background repair's fix (the benchmark's command and report are bench/lsp_latency.py)."""


from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import to_fs_path

from verifix.lsp import protocol as P

STUB = '''def restock_needed(levels, threshold):
    """Names whose level is below the threshold, sorted.

    >>> restock_needed({"apples": 3, "pears": 10, "figs": 1}, 5)
    ['apples', 'figs']
    """
    ...
'''
REPLY = ("```python\ndef restock_needed(levels, threshold):\n"
         "    return sorted(n for n, v in levels.items() if v < threshold)\n```")


def _module(functions: int) -> str:
    parts = [f"def helper_{i}(x, y=1):\n    \"\"\"Helper {i}.\"\"\"\n    total = x + y * {i}\n"
             f"    for k in range({i % 5}):\n        total += k\n    return total\n"
             for i in range(functions)]
    return "\n\n".join([STUB, *parts])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(requests: int, functions: int, real: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="verifix-bench-lsp-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
        env = dict(os.environ)
        if not real:
            spec = {"delay_s": 0.02, "default": [REPLY + " pad" * 100000]}
            (Path(tmp) / "engine.json").write_text(json.dumps(spec), encoding="utf-8")
            env[P.TEST_ENGINE_ENV] = str(Path(tmp) / "engine.json")
        client = LanguageClient("verifix-bench", "1")
        running = asyncio.Event()
        ready = asyncio.Event()

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(_params: Any) -> None:
            return None

        @client.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(params: types.ConfigurationParams) -> list[Any]:
            return [None for _ in params.items]

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(_params: Any) -> types.ApplyWorkspaceEditResult:
            return types.ApplyWorkspaceEditResult(applied=False)

        @client.feature(P.JOB_UPDATE_NOTIFICATION)
        def job_update(params: Any) -> None:
            if getattr(params, "state", None) == "running" or (
                    isinstance(params, dict) and params.get("state") == "running"):
                running.set()

        @client.feature(P.STATUS_NOTIFICATION)
        def status(params: Any) -> None:
            state = params.get("state") if isinstance(params, dict) else params.state
            if state in ("ready", "error"):
                ready.set()

        for method in (types.PROGRESS, types.WINDOW_SHOW_MESSAGE, types.WINDOW_LOG_MESSAGE,
                       types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):
            client.feature(method)(lambda *_a: None)

        cold = [await _cold_start(env, root) for _ in range(3)]
        await client.start_io(sys.executable, "-m", "verifix", "serve", env=env)
        await asyncio.sleep(2.0)  # the process has imported everything: time the handler
        sent = time.perf_counter()
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True),
                workspace=types.WorkspaceClientCapabilities(configuration=True,
                                                            apply_edit=True)),
            root_uri=root.as_uri(), process_id=os.getpid()))
        answered = time.perf_counter()
        client.initialized(types.InitializedParams())
        text = _module(functions)
        path = root / "inventory.py"
        path.write_text(text, encoding="utf-8")
        uri = path.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text=text)))
        await asyncio.wait_for(ready.wait(), 600)
        job = asyncio.ensure_future(client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=P.GENERATE, arguments=[
                {"uri": uri, "qualname": "restock_needed"}])))
        await asyncio.wait_for(running.wait(), 120)
        await asyncio.sleep(0.5)
        lines = text.split("\n")
        def_lines = [i for i, ln in enumerate(lines) if ln.startswith("def ")]
        action_ms: list[float] = []
        hover_ms: list[float] = []
        for i in range(requests):
            line = def_lines[i % len(def_lines)] + (i % 3)
            pos = types.Position(line, 4)
            t0 = time.perf_counter()
            await client.text_document_code_action_async(types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=pos, end=pos),
                context=types.CodeActionContext(diagnostics=[])))
            t1 = time.perf_counter()
            await client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(def_lines[i % len(def_lines)], 5)))
            t2 = time.perf_counter()
            action_ms.append((t1 - t0) * 1000)
            hover_ms.append((t2 - t1) * 1000)
        job_still_running = not job.done()
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=P.CANCEL, arguments=[{}]))
        try:
            await asyncio.wait_for(job, 30)
        except Exception:
            pass
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    return {
        "engine": "real" if real else "scripted, 50 tokens/s",
        "document_lines": len(lines),
        "requests": requests,
        "job_running_throughout": job_still_running,
        "initialize_ms": round((answered - sent) * 1000, 1),
        "spawn_to_initialize_ms": round(statistics.median(cold), 1),
        "codeAction_ms": {"p50": round(statistics.median(action_ms), 2),
                          "p99": round(_pct(action_ms, 0.99), 2),
                          "max": round(max(action_ms), 2)},
        "hover_ms": {"p50": round(statistics.median(hover_ms), 2),
                     "p99": round(_pct(hover_ms, 0.99), 2), "max": round(max(hover_ms), 2)},
    }


async def _cold_start(env: dict[str, str], root: Path) -> float:
    """Milliseconds from spawning `verifix serve` to its initialize response."""
    client = LanguageClient("verifix-bench-cold", "1")
    for method in (types.WINDOW_WORK_DONE_PROGRESS_CREATE, types.WORKSPACE_CONFIGURATION,
                   types.PROGRESS, P.STATUS_NOTIFICATION, types.WINDOW_SHOW_MESSAGE,
                   types.WINDOW_LOG_MESSAGE):
        client.feature(method)(lambda *_a: None)
    spawned = time.perf_counter()
    await client.start_io(sys.executable, "-m", "verifix", "serve", env=env)
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=root.as_uri(), process_id=os.getpid()))
    took = (time.perf_counter() - spawned) * 1000
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return took


# -- the on-save case (`verifix bench lsp --case onsave`) -----------------------------------
def _field(params: Any, name: str) -> Any:
    """A custom notification's field: its params arrive as a dict or as a pygls object, and
    fields equal to their default are left off the wire (None here)."""
    if isinstance(params, dict):
        return params.get(name)
    return getattr(params, name, None)


async def onsave_task(root: Path, module: Path, test_file: Path, init_options: dict[str, Any],
                      env: dict[str, str], *, ready_timeout: float = 900.0,
                      diagnostic_timeout: float = 300.0, repair_timeout: float = 1800.0,
                      ) -> dict[str, Any]:
    """One project, one server (`verifix serve` with `root` as its workspace): wait for the
    model, open `module` and `test_file`, save `module`, and time from the save to the failing
    test's diagnostic on `test_file`, to the background repair's final verifix/jobUpdate and to
    the code actions on the diagnostic (is "Apply verified fix" among them?). Seconds."""
    client = LanguageClient("verifix-bench-onsave", "1")
    test_path = test_file.resolve()
    ready = asyncio.Event()
    diagnosed = asyncio.Event()
    repaired = asyncio.Event()
    seen: dict[str, Any] = {}
    messages: list[str] = []

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create(_params: Any) -> None:
        return None

    @client.feature(types.WORKSPACE_CONFIGURATION)
    def configuration(params: types.ConfigurationParams) -> list[Any]:
        return [None for _ in params.items]  # the initializationOptions stay

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(_params: Any) -> types.ApplyWorkspaceEditResult:
        return types.ApplyWorkspaceEditResult(applied=False)

    @client.feature(P.STATUS_NOTIFICATION)
    def status(params: Any) -> None:
        state = _field(params, "state")
        if state in ("ready", "error") and not ready.is_set():
            seen["ready_at"] = time.perf_counter()
            seen["model_state"] = state
            seen["model_message"] = " ".join(
                str(_field(params, k) or "") for k in ("message", "remedy")).strip()
            ready.set()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: types.PublishDiagnosticsParams) -> None:
        path = to_fs_path(params.uri)
        ours = [d for d in params.diagnostics if d.source == P.DIAGNOSTIC_SOURCE]
        if (ours and path is not None and Path(path).resolve() == test_path
                and not diagnosed.is_set()):
            seen["diagnostic_at"] = time.perf_counter()
            seen["diagnostic"] = ours[0]
            diagnosed.set()

    @client.feature(P.JOB_UPDATE_NOTIFICATION)
    def job_update(params: Any) -> None:
        if (_field(params, "kind") == "repair" and _field(params, "status")
                and not repaired.is_set()):
            seen["repaired_at"] = time.perf_counter()
            seen["status"] = _field(params, "status")
            seen["repair_message"] = _field(params, "message") or ""
            repaired.set()

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def show(params: types.ShowMessageParams) -> None:
        messages.append(params.message)

    for method in (types.PROGRESS, types.WINDOW_LOG_MESSAGE):
        client.feature(method)(lambda *_a: None)

    out: dict[str, Any] = {"model_load_s": None, "diagnostic_s": None, "repair_s": None,
                           "status": None, "fix_offered": False, "fix_offered_s": None,
                           "repair_message": "", "error": ""}
    spawned = time.perf_counter()
    await client.start_io(sys.executable, "-m", "verifix", "serve", env=env)
    server = client._server
    assert server is not None and server.stderr is not None
    stderr_tail: list[bytes] = []
    # The server's stderr is a pipe nobody else reads: drain it, or a chatty server blocks.
    drain = asyncio.ensure_future(_drain(server.stderr, stderr_tail))
    try:
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True),
                workspace=types.WorkspaceClientCapabilities(configuration=True,
                                                            apply_edit=True),
                text_document=types.TextDocumentClientCapabilities(
                    publish_diagnostics=types.PublishDiagnosticsClientCapabilities())),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=init_options, process_id=os.getpid()))
        client.initialized(types.InitializedParams())
        if not await _within(ready.wait(), ready_timeout):
            out["error"] = f"the model was not ready within {ready_timeout:.0f} s"
            return out
        out["model_load_s"] = round(seen["ready_at"] - spawned, 2)
        if seen["model_state"] == "error":
            out["error"] = f"the model did not load: {seen['model_message']}"
            return out
        test_uri = test_file.as_uri()
        for path in (module, test_file):
            client.text_document_did_open(types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=path.as_uri(), language_id="python", version=1,
                    text=path.read_text(encoding="utf-8"))))
        saved = time.perf_counter()
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=module.as_uri())))
        if not await _within(diagnosed.wait(), diagnostic_timeout):
            out["error"] = (f"no test diagnostic within {diagnostic_timeout:.0f} s"
                            + "".join(f"; {m}" for m in messages))
            return out
        out["diagnostic_s"] = round(seen["diagnostic_at"] - saved, 2)
        if not await _within(repaired.wait(), repair_timeout):
            out["error"] = f"no repair outcome within {repair_timeout:.0f} s"
            await client.workspace_execute_command_async(types.ExecuteCommandParams(
                command=P.CANCEL, arguments=[{}]))
        else:
            out["repair_s"] = round(seen["repaired_at"] - saved, 2)
            out["status"] = seen["status"]
            out["repair_message"] = seen["repair_message"]
        diag: types.Diagnostic = seen["diagnostic"]
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=test_uri), range=diag.range,
            context=types.CodeActionContext(diagnostics=[diag])))
        answered = time.perf_counter()
        # lsprotocol may read a CodeAction that has a command as a Command: both have a title.
        titles = [str(getattr(a, "title", "")) for a in actions or []]
        out["actions"] = titles
        if any(t.startswith(P.TITLE_APPLY_FIX) for t in titles):
            out["fix_offered"] = True
            out["fix_offered_s"] = round(answered - saved, 2)
        return out
    finally:
        await _close(client, server)
        drain.cancel()
        if out["error"] and stderr_tail:
            out["server_stderr"] = b"".join(stderr_tail).decode("utf-8", "replace")[-2000:]


async def _within(awaitable: Any, timeout: float) -> bool:
    try:
        await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def _drain(stream: asyncio.StreamReader, tail: list[bytes]) -> None:
    while chunk := await stream.read(65536):
        tail.append(chunk)
        while len(tail) > 4:
            tail.pop(0)


async def _close(client: LanguageClient, server: asyncio.subprocess.Process) -> None:
    """shutdown and exit; the server process is ours: killed if it does not go."""
    try:
        await asyncio.wait_for(client.shutdown_async(None), 60)
        client.exit(None)
        await asyncio.wait_for(client.stop(), 60)
    except Exception:
        if server.returncode is None:
            server.kill()
            await server.wait()
        await asyncio.wait_for(client.stop(), 30)
