"""The editor side of `verifix bench lsp`: a real LSP client that starts `verifix serve`, keeps a
model job running and times textDocument/codeAction and textDocument/hover meanwhile (the
benchmark's command and report are bench/lsp_latency.py)."""


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
