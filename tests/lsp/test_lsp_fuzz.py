"""Malformed and random JSON-RPC on the server's stdin, a fixed number of messages from a fixed
seed: bad params, unknown methods, huge and invalid bodies, documents with invalid UTF-8 or NUL
bytes, positions outside the document. Every request gets an answer (a result or an error), and
the server stays up and keeps answering properly."""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.lsp.helpers import GOOD, script
from verifix.lsp import protocol as P

MESSAGES = 400
SEED = 7
INVALID_UTF8_DOCUMENT = (b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": '
                         b'{"textDocument": {"uri": "file:///x.py", "languageId": "python", '
                         b'"version": 1, "text": "def f():\xff\xc3\x28 pass"}}}')


class Wire:
    """A raw stdio connection: frames out, frames in, with a deadline."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "verifix", "serve"], cwd=root,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.buffer = b""
        self.answers: dict[Any, dict[str, Any]] = {}

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any, body: bytes | None = None) -> None:
        data = body if body is not None else json.dumps(message).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(data) + data)

    def pump(self, seconds: float) -> None:
        """Read whatever arrives for `seconds`, answering the server's own requests."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            self.buffer += chunk
            while b"\r\n\r\n" in self.buffer:
                head, rest = self.buffer.split(b"\r\n\r\n", 1)
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    break
                message = json.loads(rest[:length])
                self.buffer = rest[length:]
                if "method" in message and "id" in message:  # the server asks: answer
                    self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                elif "id" in message:
                    self.answers[message["id"]] = message

    def wait_answer(self, msg_id: Any, seconds: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while msg_id not in self.answers:
            assert self.proc.poll() is None, "the server died"
            assert time.monotonic() < deadline, f"request {msg_id!r} was never answered"
            self.pump(0.1)
        return self.answers[msg_id]


def _request(i: int, method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": i, "method": method, "params": params}


def _garbage(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([0, -1, 2**63, 1e308, float("inf") if rng.random() < 0.1 else 3.5])
    if kind == 2:
        return "".join(chr(rng.choice([0, 0xD800, 0x1F600, rng.randrange(32, 127)]))
                       for _ in range(rng.randrange(12)))
    if kind == 3:
        return rng.random() < 0.5
    if kind == 4:
        return ""
    if kind == 5:
        return [_garbage(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["uri", "textDocument", "range", "position", "command", "arguments",
                        "line", "character", "jobId", "qualname", "x"]): _garbage(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def test_random_and_malformed_messages_get_errors_and_the_server_stays_up(project):
    spec = project.parent / "engine.json"
    spec.write_text(json.dumps(script([GOOD])), encoding="utf-8")
    env = dict(os.environ, **{P.TEST_ENGINE_ENV: str(spec)})
    wire = Wire(project, env)
    rng = random.Random(SEED)
    doc = (project / "mod.py").as_uri()
    methods = ["textDocument/codeAction", "workspace/executeCommand", "textDocument/hover",
               "verifix/nothing", "shutdownNot", "", "$/cancelRequest", "textDocument/didOpen",
               "textDocument/didChange", "textDocument/didSave", "workspace/didChangeConfiguration"]
    try:
        wire.send(_request(0, "initialize", {"processId": None, "rootUri": project.as_uri(),
                                             "capabilities": {}}))
        assert "result" in wire.wait_answer(0)
        wire.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        requests: list[int] = []
        for i in range(1, MESSAGES + 1):
            shape = rng.randrange(10)
            if shape == 0:  # a body that is not JSON, or not UTF-8
                wire.send(None, rng.choice([b"{not json", b"\xff\xfe\x00garbage", b"[]", b"42",
                                            b'{"jsonrpc": "2.0"}', INVALID_UTF8_DOCUMENT]))
            elif shape == 1:  # a huge body
                wire.send(_request(i, "textDocument/codeAction", {"pad": "x" * (2 << 20)}))
                requests.append(i)
            elif shape == 2:  # a document with NUL bytes, lone surrogates, odd lines
                text = "def f(x):\x00\n    return '\udcff' \r\n" * rng.randrange(1, 50)
                wire.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                    "textDocument": {"uri": doc, "languageId": "python", "version": i,
                                     "text": text}}})
            elif shape == 3:  # positions outside the document
                line, char = rng.choice([(10**9, 0), (-1, -1), (0, 10**9), (2**40, 2**40)])
                position = {"line": line, "character": char}
                wire.send(_request(i, "textDocument/codeAction", {
                    "textDocument": {"uri": doc}, "range": {"start": position, "end": position},
                    "context": {"diagnostics": []}}))
                requests.append(i)
            elif shape == 4:  # our commands with bad arguments
                wire.send(_request(i, "workspace/executeCommand", {
                    "command": rng.choice(P.COMMANDS if hasattr(P, "COMMANDS") else [
                        P.GENERATE, P.REPAIR, P.APPLY_FIX, P.CANCEL, P.STATUS]),
                    "arguments": [_garbage(rng)]}))
                requests.append(i)
            elif shape == 5:  # a request id of another type
                msg_id = rng.choice([f"s{i}", i])
                wire.send(_request(msg_id, rng.choice(methods), _garbage(rng)))
                if isinstance(msg_id, str):
                    requests.append(msg_id)  # type: ignore[arg-type]
                else:
                    requests.append(i)
            elif shape == 6:  # a notification with garbage
                wire.send({"jsonrpc": "2.0", "method": rng.choice(methods),
                           "params": _garbage(rng)})
            else:  # any method, any params
                wire.send(_request(i, rng.choice(methods), _garbage(rng)))
                requests.append(i)
            if i % 50 == 0:  # the server still answers a proper request, and every other one
                wire.send(_request(f"ok{i}", "workspace/executeCommand",
                                   {"command": P.STATUS, "arguments": []}))
                assert "result" in wire.wait_answer(f"ok{i}"), wire.answers[f"ok{i}"]
                for r in requests:
                    wire.wait_answer(r)
        for r in requests:
            wire.wait_answer(r)
        assert len(requests) > MESSAGES // 3
        # A message cut short at the end of the stream: the server exits cleanly at EOF.
        wire.send_raw(b"Content-Length: 100\r\n\r\n{\"jsonrpc\"")
        assert wire.proc.stdin is not None
        wire.proc.stdin.close()
        assert wire.proc.wait(30) is not None
    finally:
        if wire.proc.poll() is None:
            wire.proc.kill()
            wire.proc.wait()
