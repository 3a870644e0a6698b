"""OpenAIEngine against a small OpenAI-compatible server started on 127.0.0.1 for each test."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from verifix.cancel import CancelToken
from verifix.engine.base import Engine, EngineError
from verifix.engine.openai import OpenAIEngine

pytestmark = pytest.mark.timeout(30)

MESSAGES = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Say hello."},
]


# ---------------------------------------------------------------------- the fake server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = {
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": json.loads(raw) if raw else None,
        }
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(request)
        try:
            fake.respond(self, request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up (stop string, cancel): expected
        self.close_connection = True

    do_GET = _handle
    do_POST = _handle

    # Helpers the per-test responders use.
    def sse_start(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def sse_raw(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def sse(self, payload: Any) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        self.sse_raw(f"data: {body}\n\n")

    def sse_end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class _HTTPServer(ThreadingHTTPServer):
    fake: FakeServer


Responder = Callable[[Handler, dict[str, Any]], None]


class FakeServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()  # set at teardown: slow responders stop waiting
        self.responder: Responder = lambda h, r: h.reply(404, {"error": "no responder"})
        self.httpd = _HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.fake = self
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def respond(self, handler: Handler, request: dict[str, Any]) -> None:
        self.responder(handler, request)

    def posts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        fake.httpd.shutdown()
        fake.httpd.server_close()
        fake.thread.join(5)


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIFIX_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def chat_chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict:
    if content is not None:
        delta["content"] = content
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def text_chunk(text: str, finish: str | None = None) -> dict:
    return {
        "object": "text_completion",
        "choices": [{"index": 0, "text": text, "finish_reason": finish}],
    }


def usage_chunk(prompt: int, completion: int, **extra: Any) -> dict:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, **extra}
    return {"object": "chat.completion.chunk", "choices": [], "usage": usage}


def stream_chat(pieces: list[str], finish: str = "stop", usage: dict | None = None) -> Responder:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        h.sse(chat_chunk(role="assistant", content=""))
        for piece in pieces:
            h.sse(chat_chunk(piece))
        h.sse(chat_chunk(finish=finish))
        if usage is not None:
            h.sse(usage)
        h.sse("[DONE]")
        h.sse_end()

    return respond


def engine_for(server: FakeServer, **kwargs: Any) -> OpenAIEngine:
    kwargs.setdefault("model", "test-model")
    return OpenAIEngine(server.url, **kwargs)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------- streaming


def test_chat_streams_tokens_in_order_and_counts_usage(server: FakeServer) -> None:
    server.responder = stream_chat(
        ["Hel", "lo", ", wor", "ld"],
        usage=usage_chunk(7, 5, prompt_tokens_details={"cached_tokens": 4}),
    )
    engine = engine_for(server)
    assert isinstance(engine, Engine)
    seen: list[str] = []
    token = CancelToken()

    done = engine.generate(MESSAGES, cancel=token, on_token=seen.append)

    assert seen == ["Hel", "lo", ", wor", "ld"]
    assert done.text == "Hello, world"
    assert done.stopped_by == "eos"
    assert (done.prompt_tokens, done.completion_tokens) == (7, 5)  # from usage, not 4 chunks
    assert done.prompt_tokens_evaluated == 3  # 7 minus 4 cached
    assert done.seconds > 0
    assert server.posts()[0]["path"] == "/v1/chat/completions"
    assert server.posts()[0]["body"]["messages"] == MESSAGES
    assert (engine.stats.calls, engine.stats.completion_tokens, engine.stats.prompt_tokens) == (
        1,
        5,
        7,
    )
    assert token._callbacks == []  # the cancel callback was unregistered


def test_without_usage_counts_content_chunks(server: FakeServer) -> None:
    server.responder = stream_chat(["a", "b", "c"], usage=None)
    done = engine_for(server).generate(MESSAGES)
    assert done.text == "abc"
    assert (done.prompt_tokens, done.completion_tokens) == (0, 3)
    assert done.prompt_tokens_evaluated is None


def test_raw_prompt_goes_to_completions(server: FakeServer) -> None:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        h.sse(text_chunk("    return "))
        h.sse(text_chunk("x + 1", finish="length"))
        h.sse(usage_chunk(11, 2))
        h.sse("[DONE]")
        h.sse_end()

    server.responder = respond
    seen: list[str] = []
    done = engine_for(server).generate("def f(x):\n", max_tokens=2, on_token=seen.append)

    request = server.posts()[0]
    assert request["path"] == "/v1/completions"
    assert request["body"]["prompt"] == "def f(x):\n"
    assert "messages" not in request["body"]
    assert "".join(seen) == done.text == "    return x + 1"
    assert done.stopped_by == "length"
    assert (done.prompt_tokens, done.completion_tokens) == (11, 2)


def test_request_body_carries_sampling_parameters(server: FakeServer) -> None:
    server.responder = stream_chat(["ok"])
    engine = engine_for(server, api_key="sk-test")
    engine.generate(MESSAGES, max_tokens=77, temperature=0.3, top_p=0.9, seed=1234, stop=["\n\n"])

    request = server.posts()[0]
    body = request["body"]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 77
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.9
    assert body["seed"] == 1234
    assert body["stop"] == ["\n\n"]
    assert body["model"] == "test-model"
    assert request["headers"]["Authorization"] == "Bearer sk-test"


def test_api_key_defaults_to_environment(server: FakeServer, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    server.responder = stream_chat(["ok"])
    engine_for(server).generate(MESSAGES)
    monkeypatch.setenv("VERIFIX_API_KEY", "sk-verifix")  # wins over OPENAI_API_KEY
    engine_for(server).generate(MESSAGES)
    auth = [r["headers"].get("Authorization") for r in server.posts()]
    assert auth == ["Bearer sk-openai", "Bearer sk-verifix"]


def test_no_model_uses_the_servers_only_model(server: FakeServer) -> None:
    chat = stream_chat(["ok"])

    def respond(h: Handler, request: dict[str, Any]) -> None:
        if request["path"] == "/v1/models":
            h.reply(200, {"object": "list", "data": [{"id": "qwen-coder", "object": "model"}]})
        else:
            chat(h, request)

    server.responder = respond
    engine = OpenAIEngine(server.url)
    engine.generate(MESSAGES)
    engine.generate(MESSAGES)
    assert [r["body"]["model"] for r in server.posts()] == ["qwen-coder", "qwen-coder"]
    assert [r["path"] for r in server.requests].count("/v1/models") == 1  # asked once
    assert engine.name == "openai:qwen-coder"


def test_no_model_and_no_model_list_sends_no_model(server: FakeServer) -> None:
    chat = stream_chat(["ok"])

    def respond(h: Handler, request: dict[str, Any]) -> None:
        if request["method"] == "GET":
            h.reply(404, {"error": "not found"})
        else:
            chat(h, request)

    server.responder = respond
    assert OpenAIEngine(server.url).generate(MESSAGES).text == "ok"
    assert "model" not in server.posts()[0]["body"]


def test_server_that_ignores_stream_still_works(server: FakeServer) -> None:
    server.responder = lambda h, r: h.reply(
        200,
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        },
    )
    seen: list[str] = []
    done = engine_for(server).generate(MESSAGES, on_token=seen.append)
    assert (done.text, seen, done.stopped_by, done.completion_tokens) == ("hi", ["hi"], "eos", 1)


def test_calls_are_serialised(server: FakeServer) -> None:
    # Counted by the responder, which leaves before the answer's last bytes: the server's own
    # count only drops after them, and a loaded machine lets the next request in first.
    answering: list[int] = []
    overlap: list[int] = []

    def respond(h: Handler, request: dict[str, Any]) -> None:
        with server.lock:
            answering.append(1)
            overlap.append(len(answering))
        h.sse_start()
        for piece in ("x", "y"):
            server.release.wait(0.1)
            h.sse(chat_chunk(piece))
        with server.lock:
            answering.pop()
        h.sse(chat_chunk(finish="stop"))
        h.sse("[DONE]")
        h.sse_end()

    server.responder = respond
    engine = engine_for(server)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(engine.generate(MESSAGES).text))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["xy", "xy", "xy"]
    assert overlap == [1, 1, 1]
    assert engine.stats.calls == 3


def test_format_chat_is_chatml() -> None:
    engine = OpenAIEngine("http://127.0.0.1:1/v1", model="m")
    assert engine.format_chat(MESSAGES) == (
        "<|im_start|>system\nYou write Python.<|im_end|>\n"
        "<|im_start|>user\nSay hello.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


# ---------------------------------------------------------------------- stop strings


def test_stop_string_is_applied_client_side(server: FakeServer) -> None:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        for piece in ("abc", "de", "EN", "Dxyz"):  # a server that ignores `stop`
            h.sse(chat_chunk(piece))
        for _ in range(50):  # ... and would keep going for 5 s
            if server.release.wait(0.1):
                return
            h.sse(chat_chunk("more"))

    server.responder = respond
    seen: list[str] = []
    start = time.monotonic()
    done = engine_for(server).generate(MESSAGES, stop=["END"], on_token=seen.append)

    assert time.monotonic() - start < 2
    assert done.text == "abcde"
    assert "".join(seen) == "abcde"
    assert done.stopped_by == "stop"
    assert server.posts()[0]["body"]["stop"] == ["END"]


def test_a_test_of_the_text_so_far_runs_client_side_and_hangs_up(server: FakeServer) -> None:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        for piece in ("one\n", "two\nthr", "ee\n"):
            h.sse(chat_chunk(piece))
        for _ in range(50):  # it would go on for 5 s
            if server.release.wait(0.1):
                return
            h.sse(chat_chunk("more\n"))

    server.responder = respond
    start = time.monotonic()
    done = engine_for(server).generate(MESSAGES, stop=["END", lambda t: "two\n" in t])

    assert time.monotonic() - start < 2
    assert (done.text, done.stopped_by) == ("one\ntwo\n", "stop")
    assert server.posts()[0]["body"]["stop"] == ["END"]  # only strings go to the server


# ---------------------------------------------------------------------- cancellation


def slow_stream(server: FakeServer, chunks: int = 100, gap_s: float = 0.1) -> Responder:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        for i in range(chunks):
            h.sse(chat_chunk(f"t{i} "))
            if server.release.wait(gap_s):
                return
        h.sse(chat_chunk(finish="stop"))
        h.sse("[DONE]")
        h.sse_end()

    return respond


def test_cancel_from_another_thread_while_streaming(server: FakeServer) -> None:
    server.responder = slow_stream(server)  # 100 chunks, 0.1 s apart: 10 s in all
    token = CancelToken()
    three = threading.Event()
    seen: list[str] = []

    def on_token(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 3:
            three.set()

    def canceller() -> None:
        three.wait(5)
        token.cancel()

    thread = threading.Thread(target=canceller)
    thread.start()
    start = time.monotonic()
    done = engine_for(server, timeout_s=30).generate(MESSAGES, cancel=token, on_token=on_token)
    elapsed = time.monotonic() - start
    thread.join(5)

    assert done.stopped_by == "cancel"
    assert elapsed < 1.5  # the server would have needed 10 s
    assert done.text.startswith("t0 t1 t2 ")
    assert len(seen) < 10
    assert done.text == "".join(f"t{i} " for i in range(len(done.text.split())))


def test_cancel_while_the_server_is_silent(server: FakeServer) -> None:
    server.responder = lambda h, r: server.release.wait(10)  # reads the request, never answers
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel)
    timer.start()
    start = time.monotonic()
    done = engine_for(server, timeout_s=30).generate(MESSAGES, cancel=token)
    elapsed = time.monotonic() - start
    timer.cancel()

    assert done.stopped_by == "cancel"
    assert done.text == ""
    assert 0.25 < elapsed < 1.5  # not the 30 s read timeout


def test_cancel_while_asking_for_the_model_list(server: FakeServer) -> None:
    server.responder = lambda h, r: server.release.wait(10)  # GET /models never answers
    engine = OpenAIEngine(server.url, timeout_s=30)
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    start = time.monotonic()
    assert engine.generate(MESSAGES, cancel=token).stopped_by == "cancel"
    assert time.monotonic() - start < 1.5
    assert [r["path"] for r in server.requests] == ["/v1/models"]
    server.release.set()
    server.responder = stream_chat(["ok"])
    engine.generate(MESSAGES)
    assert [r["path"] for r in server.requests][1:] == ["/v1/models", "/v1/chat/completions"]


def test_already_cancelled_sends_nothing(server: FakeServer) -> None:
    server.responder = stream_chat(["x"])
    token = CancelToken()
    token.cancel()
    done = engine_for(server).generate(MESSAGES, cancel=token)
    assert done.stopped_by == "cancel"
    assert done.text == ""
    assert server.requests == []


def test_cancel_while_waiting_for_another_call(server: FakeServer) -> None:
    server.responder = slow_stream(server, chunks=20)  # the first call takes 2 s
    engine = engine_for(server)
    outcome: list[object] = []

    def first_call() -> None:
        try:
            outcome.append(engine.generate(MESSAGES))
        except EngineError as exc:  # cut short by the release below
            outcome.append(exc)

    first = threading.Thread(target=first_call)
    first.start()
    time.sleep(0.2)
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    start = time.monotonic()
    done = engine.generate(MESSAGES, cancel=token)
    assert done.stopped_by == "cancel"
    assert time.monotonic() - start < 1
    server.release.set()
    first.join(5)
    assert len(outcome) == 1


# ---------------------------------------------------------------------- errors


def one_line_error(excinfo: pytest.ExceptionInfo[EngineError]) -> str:
    message = str(excinfo.value)
    assert type(excinfo.value) is not None and isinstance(excinfo.value, EngineError)
    assert "\n" not in message
    return message


def test_http_500_reports_status_and_body(server: FakeServer) -> None:
    body = "E" + "0123456789" * 50
    server.responder = lambda h, r: h.reply(500, body, content_type="text/plain")
    with pytest.raises(EngineError) as excinfo:
        engine_for(server).generate(MESSAGES)
    message = one_line_error(excinfo)
    assert f"server at {server.url}/chat/completions answered 500: " in message
    assert body[:200] in message
    assert body[:201] not in message


def test_http_500_with_openai_error_body(server: FakeServer) -> None:
    server.responder = lambda h, r: h.reply(
        500, {"error": {"message": "the model crashed", "type": "server_error"}}
    )
    with pytest.raises(EngineError, match=r"answered 500: the model crashed$"):
        engine_for(server).generate(MESSAGES)


def test_http_401_mentions_the_api_key(server: FakeServer) -> None:
    server.responder = lambda h, r: h.reply(401, "unauthorized", content_type="text/plain")
    with pytest.raises(EngineError) as excinfo:
        engine_for(server, api_key="wrong").generate(MESSAGES)
    message = one_line_error(excinfo)
    assert "answered 401: unauthorized" in message
    assert "API key" in message
    assert "wrong" not in message  # never echo the key


def test_http_404_without_v1_asks_about_the_url(server: FakeServer) -> None:
    server.responder = lambda h, r: h.reply(404, {"error": "File Not Found"})
    with pytest.raises(EngineError) as excinfo:
        OpenAIEngine(server.url.removesuffix("/v1"), model="m").generate(MESSAGES)
    assert one_line_error(excinfo).endswith(
        "answered 404: File Not Found — does the base URL need to end in /v1?"
    )


def test_timeout_when_the_server_never_answers(server: FakeServer) -> None:
    server.responder = lambda h, r: server.release.wait(10)
    start = time.monotonic()
    with pytest.raises(EngineError) as excinfo:
        engine_for(server, timeout_s=0.3).generate(MESSAGES)
    assert time.monotonic() - start < 2
    assert one_line_error(excinfo) == (f"no answer from {server.url}/chat/completions within 0.3 s")


@pytest.mark.parametrize(
    "chunk",
    ["{not json", "[1, 2]", '{"choices": "nope"}', '{"choices": [{"delta": {"content": 3}}]}'],
)
def test_malformed_chunks(server: FakeServer, chunk: str) -> None:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        h.sse(chat_chunk("fine"))
        h.sse(chunk)
        h.sse_end()

    server.responder = respond
    with pytest.raises(EngineError) as excinfo:
        engine_for(server).generate(MESSAGES)
    assert one_line_error(excinfo).startswith(
        f"malformed chunk from {server.url}/chat/completions: "
    )


def test_error_inside_the_stream(server: FakeServer) -> None:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        h.sse({"error": {"message": "context window exceeded", "code": 400}})
        h.sse_end()

    server.responder = respond
    with pytest.raises(EngineError, match="reported an error: context window exceeded"):
        engine_for(server).generate(MESSAGES)


def test_error_event_inside_the_stream(server: FakeServer) -> None:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        h.sse_raw('error: {"message": "slot unavailable"}\n\n')  # llama-server's form
        h.sse_end()

    server.responder = respond
    with pytest.raises(EngineError, match="reported an error: slot unavailable$"):
        engine_for(server).generate(MESSAGES)


def test_stream_cut_short(server: FakeServer) -> None:
    def respond(h: Handler, request: dict[str, Any]) -> None:
        h.sse_start()
        h.sse(chat_chunk("par"))
        h.sse_end()  # no finish_reason, no [DONE]

    server.responder = respond
    with pytest.raises(EngineError, match="ended before the answer was complete"):
        engine_for(server).generate(MESSAGES)


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(EngineError) as excinfo:
        OpenAIEngine(url, model="m").generate(MESSAGES)
    message = one_line_error(excinfo)
    assert message.startswith(f"cannot reach the OpenAI-compatible server at {url}: ")
    assert message.endswith("is it running?")


def test_bad_url_is_rejected() -> None:
    with pytest.raises(EngineError, match="invalid OpenAI-compatible server URL"):
        OpenAIEngine("127.0.0.1:8080/v1")


def test_closed_engine_refuses(server: FakeServer) -> None:
    server.responder = stream_chat(["x"])
    engine = engine_for(server)
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.generate(MESSAGES)
    assert server.requests == []


# ---------------------------------------------------------------------- waves
def test_a_wave_is_sent_as_concurrent_requests_answered_in_order(server: FakeServer) -> None:
    from verifix.engine.base import Sample

    both_in = threading.Barrier(3, timeout=5)  # only passes when all three are in flight

    def respond(h: Handler, request: dict[str, Any]) -> None:
        both_in.wait()
        h.sse_start()
        h.sse(chat_chunk(f"seed {request['body']['seed']}"))
        h.sse(chat_chunk(finish="stop"))
        h.sse("[DONE]")
        h.sse_end()

    server.responder = respond
    engine = engine_for(server)
    done = engine.generate_many([Sample(MESSAGES, 0.8, 0.95, seed, 16) for seed in (3, 1, 2)])
    assert [c.text for c in done] == ["seed 3", "seed 1", "seed 2"]
    assert engine.stats.calls == 3
    assert [p["body"]["max_tokens"] for p in server.posts()] == [16, 16, 16]


def test_a_cancelled_wave_hangs_up_every_request(server: FakeServer) -> None:
    from verifix.engine.base import Sample

    server.responder = slow_stream(server)  # 10 s each
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel)
    timer.start()
    start = time.monotonic()
    done = engine_for(server, timeout_s=30).generate_many(
        [Sample(MESSAGES, seed=s) for s in range(3)], cancel=token)
    timer.cancel()
    assert [c.stopped_by for c in done] == ["cancel"] * 3
    assert time.monotonic() - start < 1.5


def test_an_engine_of_one_slot_sends_a_wave_one_request_at_a_time(server: FakeServer) -> None:
    from verifix.engine.base import Sample

    answering: list[int] = []
    overlap: list[int] = []

    def respond(h: Handler, request: dict[str, Any]) -> None:
        with server.lock:
            answering.append(1)
            overlap.append(len(answering))
        h.sse_start()
        server.release.wait(0.05)
        with server.lock:
            answering.pop()
        h.sse(chat_chunk("x", finish="stop"))
        h.sse("[DONE]")
        h.sse_end()

    server.responder = respond
    done = engine_for(server, parallel=1).generate_many([Sample(MESSAGES)] * 3)
    assert [c.text for c in done] == ["x"] * 3 and overlap == [1, 1, 1]
