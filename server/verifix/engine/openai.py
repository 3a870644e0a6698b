"""An engine that streams from any OpenAI-compatible server (llama-server, vLLM, Ollama)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from verifix.engine.base import (
    CancelToken,
    Completion,
    EngineError,
    EngineStats,
    Message,
    Prompt,
    Sample,
    Stop,
    StoppedBy,
    StopScanner,
    TokenCallback,
    generate_each,
)

_POLL_S = 0.05  # how often a wait for the engine lock looks at `cancel`
_ERROR_CHARS = 200


class _StatusError(EngineError):
    """The server answered with an HTTP error status."""


class OpenAIEngine:
    """Streams chat or text completions from an OpenAI-compatible HTTP server.

    `base_url` is the API root, e.g. "http://127.0.0.1:8080/v1". Chat messages go to
    `/chat/completions` (the server applies the model's chat template); a raw string goes to
    `/completions`. `timeout_s` bounds each wait for the server (the first byte and every gap
    between chunks), `connect_timeout_s` the TCP connect and TLS handshake.
    """

    # The server formats chats with a template we cannot see, so no client-side budget forcing.
    thinks = False

    def __init__(self, base_url: str, model: str = "", api_key: str | None = None,
                 timeout_s: float = 60.0, connect_timeout_s: float = 10.0,
                 parallel: int = 4) -> None:
        self.base_url = base_url.strip().rstrip("/")
        try:
            url = httpx.URL(self.base_url)
        except httpx.InvalidURL as exc:
            raise EngineError(f"invalid OpenAI-compatible server URL {base_url!r}: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise EngineError(f"invalid OpenAI-compatible server URL {base_url!r}: "
                              "expected http(s)://HOST[:PORT]/v1")
        self.model = model
        self._model_resolved = bool(model)
        if api_key is None:
            api_key = os.environ.get("VERIFIX_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self._api_key = api_key or None
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.name = f"openai:{model}" if model else "openai"
        self.stats = EngineStats()
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()  # the concurrent requests of a wave ask it once
        self.parallel = max(1, parallel)
        headers = {"User-Agent": "verifix"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        # No keep-alive: every call connects afresh, so `_Hangup` always sees the socket it
        # must shut down on cancel (and the server sees the hang-up and stops generating).
        self._client = httpx.Client(headers=headers,
                                    timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
                                    limits=httpx.Limits(max_keepalive_connections=0))

    def format_chat(self, messages: Sequence[Message]) -> str:
        """ChatML, for raw continuations; chat requests use the server's own template."""
        return ("".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
                + "<|im_start|>assistant\n")

    def forget(self) -> None:
        pass  # the server's own prompt cache is out of reach; its answers may vary run to run

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def generate(self, prompt: Prompt, *, max_tokens: int = 512, temperature: float = 0.0,
                 top_p: float = 1.0, seed: int | None = None, stop: Sequence[Stop] | None = None,
                 cancel: CancelToken | None = None,
                 on_token: TokenCallback | None = None) -> Completion:
        start = time.perf_counter()
        if not self._acquire(cancel):
            return Completion("", 0, 0, time.perf_counter() - start, "cancel")
        try:
            completion = self._stream(Sample(prompt, temperature, top_p, seed, max_tokens,
                                             tuple(stop or ())), cancel, on_token, start)
            self.stats.add(completion)
            return completion
        finally:
            self._lock.release()

    def generate_many(self, samples: Sequence[Sample], *,
                      cancel: CancelToken | None = None) -> list[Completion]:
        """The samples as concurrent requests (a server with parallel slots decodes them
        together; one without queues them)."""
        if len(samples) < 2 or self.parallel < 2:
            return generate_each(self, samples, cancel)
        start = time.perf_counter()
        if not self._acquire(cancel):
            return [Completion("", 0, 0, 0.0, "cancel") for _ in samples]
        try:
            with ThreadPoolExecutor(max_workers=self.parallel) as pool:
                futures = [pool.submit(self._stream, s, cancel, None, start) for s in samples]
                done = [f.result() for f in futures]
        finally:
            self._lock.release()
        share = (time.perf_counter() - start) / len(done)
        for c in done:
            c.seconds = share
            self.stats.add(c)
        return done

    def _stream(self, sample: Sample, cancel: CancelToken | None,
                on_token: TokenCallback | None, start: float) -> Completion:
        """One request, streamed (the caller holds the engine lock)."""
        if self._client.is_closed:
            raise EngineError(f"the engine for {self.base_url} is closed")
        prompt = sample.prompt
        chat = not isinstance(prompt, str)
        path = "/chat/completions" if chat else "/completions"
        stops = [s for s in sample.stop if s]  # the tests of the text so far run here
        body: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True},
                                "max_tokens": sample.max_tokens,
                                "temperature": sample.temperature, "top_p": sample.top_p}
        if isinstance(prompt, str):
            body["prompt"] = prompt
        else:
            body["messages"] = list(prompt)
        if sample.seed is not None:
            body["seed"] = sample.seed
        if strings := [s for s in stops if isinstance(s, str)]:
            body["stop"] = strings
        reply = _Reply(self.base_url + path, chat, StopScanner(stops), on_token)
        hangup = _Hangup()
        unregister = cancel.on_cancel(hangup.fire) if cancel is not None else None
        try:
            with self._model_lock:
                model = self._resolve_model(hangup)
            if model:
                body["model"] = model
            self._post(path, body, reply, hangup)
        except EngineError:
            if not hangup.fired:
                raise  # else the failure is our own hang-up
        finally:
            if unregister is not None:
                unregister()
        return reply.completion(start, cancelled=hangup.fired)

    def _acquire(self, cancel: CancelToken | None) -> bool:
        """Take the engine lock, giving up if `cancel` fires while another call holds it."""
        if cancel is None:
            return self._lock.acquire()
        while not cancel.cancelled:
            if self._lock.acquire(timeout=_POLL_S):
                return True
        return False

    def _resolve_model(self, hangup: _Hangup) -> str:
        """With no model named, use the server's only model (GET /models); else send none."""
        if self._model_resolved:
            return self.model
        try:
            with self._request("GET", "/models", hangup) as response:
                ids = [m["id"] for m in json.loads(response.read())["data"]]
        except (_StatusError, ValueError, LookupError, TypeError):
            ids = []  # the server answered, just not with a model list
        self._model_resolved = True
        if len(ids) == 1 and isinstance(ids[0], str):
            self.model = ids[0]
            self.name = f"openai:{self.model}"
        return self.model

    def _post(self, path: str, body: dict[str, Any], reply: _Reply, hangup: _Hangup) -> None:
        with self._request("POST", path, hangup, body) as response:
            kind = response.headers.get("content-type", "").lower()
            if "json" in kind and "event-stream" not in kind:  # the server ignored `stream`
                reply.take(response.read().decode("utf-8", "replace"), streamed=False)
                reply.done = True
                return
            # Server-sent events; OpenAI-style servers put each JSON chunk on one data line.
            for line in response.iter_lines():
                field, _, value = line.partition(":")
                if field == "data":
                    reply.take(value.strip(), streamed=True)
                elif field == "error":  # llama-server reports some failures this way
                    raise EngineError(f"server at {reply.url} reported an error: {_error(value)}")
                if reply.done or reply.stop_hit or hangup.fired:
                    return
        if not (reply.done or reply.stop_hit or reply.finish_reason):
            raise EngineError(f"the stream from {reply.url} ended before the answer was complete")

    @contextmanager
    def _request(self, method: str, path: str, hangup: _Hangup,
                 body: dict[str, Any] | None = None) -> Iterator[httpx.Response]:
        """The streamed 2xx response; any HTTP failure, also while reading, as an EngineError."""
        url = self.base_url + path
        try:
            with self._client.stream(method, url, json=body,
                                     extensions={"trace": hangup.trace}) as response:
                if not response.is_success:
                    response.read()
                    raise self._status_error(response, url)
                yield response
        except httpx.HTTPError as exc:
            raise EngineError(self._failure(exc, url)) from None

    def _status_error(self, response: httpx.Response, url: str) -> _StatusError:
        status = response.status_code
        message = (f"server at {url} answered {status}: "
                   f"{_error(response.text) or response.reason_phrase}")
        if status in (401, 403) and self._api_key:
            message += (" — check the API key (api_key, or the VERIFIX_API_KEY / OPENAI_API_KEY "
                        "environment variables)")
        elif status in (401, 403):
            message += " — the server wants an API key: set VERIFIX_API_KEY (or OPENAI_API_KEY)"
        elif status == 404 and not self.base_url.endswith("/v1"):
            message += " — does the base URL need to end in /v1?"
        return _StatusError(message)

    def _failure(self, exc: httpx.HTTPError, url: str) -> str:
        root: BaseException = exc
        while root.__cause__ is not None:  # httpx wraps httpcore's error, which wraps the OSError
            root = root.__cause__
        reason = root.strerror if isinstance(root, OSError) and root.strerror else str(root)
        reason = _one_line(reason) or type(root).__name__
        if isinstance(exc, httpx.ConnectTimeout):
            return (f"no answer from {self.base_url} within {self.connect_timeout_s:g} s"
                    " (connecting)")
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer from {url} within {self.timeout_s:g} s"
        if isinstance(root, ssl.SSLError):
            return f"TLS with {self.base_url} failed: {reason}"
        if isinstance(exc, httpx.ConnectError):
            return (f"cannot reach the OpenAI-compatible server at {self.base_url}: {reason}"
                    " — is it running?")
        return f"the connection to {url} broke off: {reason}"


class _Hangup:
    """Shuts the call's socket down when its CancelToken fires, from the cancelling thread.

    Closing a socket does not wake a read blocked on it in another thread; a shutdown does.
    httpx shows no socket before the response headers, so the connection's trace events
    (a documented httpx request extension) report it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.fired = False

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(("connect_tcp.complete", "start_tls.complete")):
            with self._lock:
                self._sock = info["return_value"].get_extra_info("socket")
                if self.fired:
                    self._shutdown()

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            try:  # the plain-socket shutdown, also for TLS: no TLS goodbye to wait for
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


class _Reply:
    """What one call has gathered from the server so far."""

    def __init__(self, url: str, chat: bool, scanner: StopScanner,
                 on_token: TokenCallback | None) -> None:
        self.url, self.chat, self.scanner, self.on_token = url, chat, scanner, on_token
        self.pieces = 0  # text chunks: the token count when the server reports no usage
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.evaluated: int | None = None
        self.finish_reason: str | None = None
        self.stop_hit = self.done = False

    def take(self, raw: str, *, streamed: bool) -> None:
        """Apply one streamed chunk, or the whole answer of a server that ignored `stream`."""
        if streamed and raw == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(raw)
            if chunk.get("error"):
                raise EngineError(
                    f"server at {self.url} reported an error: {_error(chunk['error'])}")
            usage, timings = chunk.get("usage"), chunk.get("timings")
            if usage and isinstance(usage.get("prompt_tokens"), int):
                self.prompt_tokens = usage["prompt_tokens"]
                cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
                if isinstance(cached, int):
                    self.evaluated = max(0, self.prompt_tokens - cached)
            if usage and isinstance(usage.get("completion_tokens"), int):
                self.completion_tokens = usage["completion_tokens"]
            if timings and isinstance(timings.get("prompt_n"), int):
                self.evaluated = timings["prompt_n"]  # llama-server: prompt tokens evaluated
            if usage is None and timings is None and "choices" not in chunk:
                raise KeyError("choices")
            text = None
            for choice in (chunk.get("choices") or [])[:1]:
                if self.chat:
                    text = (choice.get("delta" if streamed else "message") or {}).get("content")
                else:
                    text = choice.get("text")
                if text is not None and not isinstance(text, str):
                    raise TypeError("the text is not a string")
                if choice.get("finish_reason"):
                    self.finish_reason = str(choice["finish_reason"])
        except (ValueError, LookupError, TypeError, AttributeError):
            what = "chunk" if streamed else "answer"
            raise EngineError(f"malformed {what} from {self.url}: {_one_line(raw)}") from None
        if text and not self.stop_hit:
            self.pieces += 1
            out, self.stop_hit = self.scanner.feed(text)
            if out and self.on_token is not None:
                self.on_token(out)

    def completion(self, start: float, *, cancelled: bool) -> Completion:
        stopped_by: StoppedBy
        if cancelled:
            stopped_by = "cancel"
        elif self.stop_hit:
            stopped_by = "stop"
        else:
            stopped_by = "length" if self.finish_reason == "length" else "eos"
            tail = self.scanner.flush()
            if tail and self.on_token is not None:
                self.on_token(tail)
        tokens = self.pieces if self.completion_tokens is None else self.completion_tokens
        return Completion(self.scanner.text, self.prompt_tokens or 0, tokens,
                          time.perf_counter() - start, stopped_by,
                          prompt_tokens_evaluated=self.evaluated)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:_ERROR_CHARS]


def _error(value: Any) -> str:
    """The message of an OpenAI-style error body ({"error": {"message": …}}), else the body."""
    try:
        value = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        pass
    if isinstance(value, dict):
        value = value.get("error", value)
    if isinstance(value, dict):
        value = value.get("message", value)
    return _one_line(value if isinstance(value, str) else json.dumps(value))
