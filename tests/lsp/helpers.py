"""Start the real server (python -m verifix serve) under a pytest-lsp client, with the
ScriptedEngine test hook, and record what it sends."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Union

import attrs
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from verifix.lsp import protocol as P

GOOD = "```python\ndef double(x):\n    return x * 2\n```"
GOOD_2 = "```python\ndef double(x):\n    return x + x\n```"
INPUTS = "```python\nassert double(0) == 0\nassert double(3) == 6\nassert double(-5) == -10\n```"
PLANS = "1. Multiply the number by two using the * operator.\n2. Add the number to itself."


def script(default: list[str], *, delay_s: float = 0.0, load_delay_s: float = 0.0,
           load_error: str = "", inputs: str = INPUTS) -> dict[str, Any]:
    return {"delay_s": delay_s, "load_delay_s": load_delay_s, "load_error": load_error,
            "rules": [{"contains": "different test calls", "replies": [inputs]},
                      {"contains": "different ways to implement", "replies": [PLANS]}],
            "default": default}


def as_dict(value: Any) -> dict[str, Any]:
    """Custom notification params arrive as pygls objects or dicts; read them alike."""
    if isinstance(value, dict):
        return value
    if hasattr(value, "_asdict"):
        return {k: as_dict(v) if hasattr(v, "_asdict") else v
                for k, v in value._asdict().items()}
    return dict(vars(value))


async def start(root: Path, client_name: str, spec: dict[str, Any] | None = None, *,
                init_options: dict[str, Any] | None = None, apply_ok: bool = True,
                configuration: dict[str, Any] | None = None,
                env_overrides: dict[str, str] | None = None) -> LanguageClient:
    env = dict(os.environ) | (env_overrides or {})
    if spec is not None:
        path = root.parent / f"{root.name}-engine.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        env[P.TEST_ENGINE_ENV] = str(path)
    config = ClientServerConfig(server_command=[sys.executable, "-m", "verifix", "serve"],
                                server_env=env)
    client = await config.start()
    _fix_code_action_union(client)
    if configuration is not None:
        client.set_configuration(configuration, section=P.CONFIG_SECTION)
    client.edits = []  # type: ignore[attr-defined]
    client.job_updates = []  # type: ignore[attr-defined]
    client.statuses = []  # type: ignore[attr-defined]
    client.apply_ok = apply_ok  # type: ignore[attr-defined]

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.edits.append(params)  # type: ignore[attr-defined]
        ok = client.apply_ok  # type: ignore[attr-defined]
        return types.ApplyWorkspaceEditResult(applied=ok,
                                              failure_reason=None if ok else "user said no")

    @client.feature(P.JOB_UPDATE_NOTIFICATION)
    def job_update(params: Any) -> None:
        # Fields equal to their default are left off the wire: fill them back in.
        full = attrs.asdict(P.JobUpdate(jobId="", kind="", target="", state="queued"))
        client.job_updates.append(full | as_dict(params))  # type: ignore[attr-defined]

    @client.feature(P.STATUS_NOTIFICATION)
    def status(params: Any) -> None:
        full = attrs.asdict(P.ServerStatus(state="loading", model=""))
        client.statuses.append(full | as_dict(params))  # type: ignore[attr-defined]

    client.init_seconds = 0.0  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(client_name),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=init_options))
    client.init_seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    return client


def _fix_code_action_union(client: LanguageClient) -> None:
    """lsprotocol reads every CodeAction that has a `command` as a Command; real clients look
    at the type of `command` (a string only in a Command). Do the same here."""
    conv = client.protocol._converter

    def hook(obj: Any, _t: Any) -> Any:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return conv.structure(obj, kind)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


async def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_ready(client: LanguageClient, timeout: float = 30.0) -> None:
    await wait_for(lambda: any(s["state"] in ("ready", "error")
                               for s in client.statuses), timeout, "model status")


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version,
                                             text=text)))
    return uri


def encoding_of(client_name: str) -> str:
    return "utf-8" if client_name == "neovim" else "utf-16"


def col_units(line: str, encoding: str) -> int:
    return len(line.encode("utf-8")) if encoding == "utf-8" else len(
        line.encode("utf-16-le")) // 2


def offset(text: str, pos: types.Position, encoding: str) -> int:
    lines = text.split("\n")
    before = sum(len(ln) + 1 for ln in lines[:pos.line])
    line = lines[pos.line] if pos.line < len(lines) else ""
    chars = 0
    units = 0
    for ch in line:
        if units >= pos.character:
            break
        units += col_units(ch, encoding)
        chars += 1
    return before + chars


def apply_edits(text: str, edits: list[Any], encoding: str) -> str:
    spans = sorted(((offset(text, e.range.start, encoding), offset(text, e.range.end, encoding),
                     e.new_text) for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def server_pid(client: LanguageClient) -> int:
    return client._server.pid  # type: ignore[union-attr]
