"""The OpenAI-compatible backend against a real server: llama-cpp-python's own
(`python -m llama_cpp.server`, the `server` extra) serving the embedded GGUF on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import verifix
from verifix.engine.base import Sample
from verifix.engine.openai import OpenAIEngine

pytestmark = pytest.mark.slow

ASK = [{"role": "user", "content": "Write a Python function is_even(n). Only code."}]

CLAMP = '''
def clamp(value, low, high):
    """Limit value to the range [low, high].

    >>> clamp(5, 0, 10)
    5
    >>> clamp(-3, 0, 10)
    0
    >>> clamp(42, 0, 10)
    10
    """
    ...
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(real_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(real_model_path),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
             # By default a new request interrupts the one running: a wave needs them all.
             "--n_threads", "2", "--interrupt_requests", "False"],
            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_engine_streams_from_the_server_and_sends_a_wave(server_url: str) -> None:
    engine = OpenAIEngine(server_url)  # no model named: the server's only model is used
    try:
        pieces: list[str] = []
        c = engine.generate(ASK, max_tokens=80, on_token=pieces.append)
        assert "def is_even" in c.text and "".join(pieces) == c.text
        assert c.completion_tokens > 5  # this server sends no usage when it streams: counted
        assert engine.name != "openai"  # resolved from GET /models
        stopped = engine.generate(ASK, max_tokens=200, stop=["def "])
        assert "def " not in stopped.text and stopped.completion_tokens < 40  # the server stops
        wave = engine.generate_many([Sample(ASK, 0.0, 1.0, 1, 80),
                                     Sample(ASK, 0.8, 0.95, 2, 80)])
        assert [w.stopped_by in ("eos", "length") for w in wave] == [True, True]
        assert "def is_even" in wave[0].text and wave[1].completion_tokens > 0
    finally:
        engine.close()


def test_generate_from_the_command_line_against_the_server(server_url: str,
                                                           tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    (tmp_path / "helpers.py").write_text(CLAMP)
    done = verifix("generate", "helpers.py::clamp", "--backend", "openai", "--url", server_url,
                   "--json", cwd=tmp_path, timeout=600)
    result = json.loads(done.stdout)
    assert result["status"] in ("verified", "plausible", "unverified"), done.stderr
    assert result["tokens"]["completion"] > 0
    if result["status"] != "unverified":
        assert result["evidence"]["trusted_checks"] == {"passed": 3, "total": 3}
    assert (tmp_path / "helpers.py").read_text() == CLAMP  # no --apply: the file is untouched
