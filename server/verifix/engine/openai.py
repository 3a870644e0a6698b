"""An engine that streams from any OpenAI-compatible server (llama-server, vLLM, Ollama).

Standard library only. One connection per call; cancellation shuts the socket down from the
cancelling thread, so a read blocked on a silent server returns at once.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from verifix.engine.base import (
    CancelToken,
    Completion,
    EngineError,
    EngineStats,
    Message,
    Prompt,
    StopScanner,
    TokenCallback,
)

_POLL_S = 0.05  # how often a pending connect or a wait for the engine lock looks at `cancel`
_ERROR_BODY_CHARS = 200
_IN_PROGRESS = {
    errno.EINPROGRESS,
    errno.EALREADY,
    errno.EWOULDBLOCK,
    getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK),
}


def _one_line(text: str, limit: int | None = None) -> str:
    flat = " ".join(text.split())
    return flat[:limit] if limit is not None else flat


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return _one_line(exc.strerror)
    return _one_line(str(exc)) or type(exc).__name__


def _seconds(value: float) -> str:
    return f"{value:g}"


class _Cancelled(Exception):
    """Internal: the call was cancelled; unwinds to `generate`, never leaves this module."""


class _StatusError(EngineError):
    """The server answered with an HTTP error status."""


class _Connection:
    """The socket of one call, shut down from whichever thread cancels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._conn: http.client.HTTPConnection | None = None
        self.cancelled = False

    def attach(self, sock: socket.socket) -> bool:
        """Make `sock` the one to shut down on cancel; False if already cancelled."""
        with self._lock:
            if self.cancelled:
                return False
            self._sock = sock
            return True

    def set_http(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._conn = conn

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            sock = self._sock
            if sock is not None:
                try:
                    # The plain-socket shutdown (also for an SSLSocket): wakes a blocked read.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        with self._lock:
            sock, conn = self._sock, self._conn
            self._sock = self._conn = None
            for closer in (conn.close if conn else None, sock.close if sock else None):
                if closer is not None:
                    try:
                        closer()
                    except Exception:  # closing must never raise
                        pass


class OpenAIEngine:
    """Streams chat or text completions from an OpenAI-compatible HTTP server.

    `base_url` is the API root, e.g. "http://127.0.0.1:8080/v1". Chat messages go to
    `/chat/completions` (the server applies the model's chat template); a raw string goes to
    `/completions`. `timeout_s` bounds each wait for the server (the first byte and every gap
    between chunks), `connect_timeout_s` the TCP connect and TLS handshake.
    """

    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(
                f"invalid OpenAI-compatible server URL {base_url!r}: "
                "expected http(s)://HOST[:PORT]/v1"
            )
        try:
            port = parts.port
        except ValueError as exc:
            raise EngineError(f"invalid port in server URL {base_url!r}: {exc}") from None
        self.base_url = base_url.strip().rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/")
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
        self._closed = False
        self._ssl_context: ssl.SSLContext | None = None

    # ------------------------------------------------------------------ public API

    def format_chat(self, messages: Sequence[Message]) -> str:
        """ChatML, for raw continuations; chat requests use the server's own template."""
        return (
            "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            + "<|im_start|>assistant\n"
        )

    def forget(self) -> None:
        pass  # the server's own prompt cache is out of reach; its answers may vary run to run

    def close(self) -> None:
        self._closed = True

    def generate(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        cancel: CancelToken | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        start = time.perf_counter()
        if not self._acquire(cancel):
            return Completion("", 0, 0, time.perf_counter() - start, "cancel")
        try:
            if self._closed:
                raise EngineError(f"the engine for {self.base_url} is closed")
            return self._generate(
                prompt,
                start=start,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                stop=stop,
                cancel=cancel,
                on_token=on_token,
            )
        finally:
            self._lock.release()

    # ------------------------------------------------------------------ one call

    def _acquire(self, cancel: CancelToken | None) -> bool:
        """Take the engine lock, giving up if `cancel` fires while another call holds it."""
        if cancel is None:
            self._lock.acquire()
            return True
        while not cancel.cancelled:
            if self._lock.acquire(timeout=_POLL_S):
                return True
        return False

    def _generate(
        self,
        prompt: Prompt,
        *,
        start: float,
        max_tokens: int,
        temperature: float,
        top_p: float,
        seed: int | None,
        stop: Sequence[str] | None,
        cancel: CancelToken | None,
        on_token: TokenCallback | None,
    ) -> Completion:
        chat = not isinstance(prompt, str)
        stop_list = [s for s in (stop or []) if s]
        body: dict[str, Any] = {
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
        }
        if not isinstance(prompt, str):
            body["messages"] = [{"role": m["role"], "content": m["content"]} for m in prompt]
        else:
            body["prompt"] = prompt
        if seed is not None:
            body["seed"] = seed
        if stop_list:
            body["stop"] = stop_list

        scanner = StopScanner(stop_list)
        state = _StreamState()
        conn = _Connection()
        unregister: Callable[[], None] = (
            cancel.on_cancel(conn.cancel) if cancel is not None else (lambda: None)
        )
        try:
            try:
                model = self._resolve_model(conn)
                if model:
                    body["model"] = model
                path = "/chat/completions" if chat else "/completions"
                url = self.base_url + path
                resp = self._request(conn, "POST", path, body)
                content_type = (resp.getheader("Content-Type") or "").lower()
                if "json" in content_type and "event-stream" not in content_type:
                    # The server ignored `stream`: one JSON answer.
                    raw = self._read_all(conn, resp, url)
                    self._handle_json_answer(raw, url, chat, state)
                    self._emit(state.pending, scanner, state, on_token)
                else:
                    self._consume_stream(conn, resp, url, chat, scanner, state, on_token)
            except _Cancelled:
                state.cancelled = True
            if conn.cancelled:
                state.cancelled = True
        finally:
            unregister()
            conn.close()

        if state.cancelled:
            stopped_by = "cancel"
        elif state.stop_hit:
            stopped_by = "stop"
        elif state.finish_reason == "length":
            stopped_by = "length"
        else:
            stopped_by = "eos"
        if not state.stop_hit and not state.cancelled:
            tail = scanner.flush()
            if tail and on_token is not None:
                on_token(tail)
        completion = Completion(
            text=scanner.text,
            prompt_tokens=state.prompt_tokens or 0,
            completion_tokens=(
                state.completion_tokens
                if state.completion_tokens is not None
                else state.content_chunks
            ),
            seconds=time.perf_counter() - start,
            stopped_by=stopped_by,  # type: ignore[arg-type]
            prompt_tokens_evaluated=state.prompt_tokens_evaluated,
        )
        self.stats.add(completion)
        return completion

    def _consume_stream(
        self,
        conn: _Connection,
        resp: http.client.HTTPResponse,
        url: str,
        chat: bool,
        scanner: StopScanner,
        state: _StreamState,
        on_token: TokenCallback | None,
    ) -> None:
        data_lines: list[str] = []
        while True:
            raw = self._readline(conn, resp, url)
            if raw is None:  # end of the stream
                if data_lines:
                    self._handle_event("\n".join(data_lines), url, chat, state)
                    self._emit(state.pending, scanner, state, on_token)
                break
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line == "":
                if data_lines:
                    event, data_lines = "\n".join(data_lines), []
                    self._handle_event(event, url, chat, state)
                    self._emit(state.pending, scanner, state, on_token)
                    if state.stop_hit or state.done:
                        return
                continue
            if line.startswith(":"):
                continue  # an SSE comment (keep-alive)
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data_lines.append(value)
            elif field == "error":  # llama-server reports some failures this way
                raise EngineError(
                    f"server at {url} reported an error: {_error_text(value, _ERROR_BODY_CHARS)}"
                )
            # event:, id:, retry: carry nothing we need.
        if not state.done and state.finish_reason is None and not state.stop_hit:
            raise EngineError(f"the stream from {url} ended before the answer was complete")

    @staticmethod
    def _emit(
        pieces: list[str],
        scanner: StopScanner,
        state: _StreamState,
        on_token: TokenCallback | None,
    ) -> None:
        while pieces and not state.stop_hit:
            out, hit = scanner.feed(pieces.pop(0))
            if out and on_token is not None:
                on_token(out)
            if hit:
                state.stop_hit = True
        pieces.clear()

    # ------------------------------------------------------------------ chunks

    def _handle_event(self, data: str, url: str, chat: bool, state: _StreamState) -> None:
        if data.strip() == "[DONE]":
            state.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise EngineError(
                f"malformed chunk from {url}: {_one_line(data, _ERROR_BODY_CHARS)}"
            ) from None
        self._handle_chunk(chunk, data, url, chat, state, streamed=True)

    def _handle_json_answer(self, raw: bytes, url: str, chat: bool, state: _StreamState) -> None:
        text = raw.decode("utf-8", errors="replace")
        try:
            answer = json.loads(text)
        except ValueError:
            raise EngineError(
                f"malformed answer from {url}: {_one_line(text, _ERROR_BODY_CHARS)}"
            ) from None
        self._handle_chunk(answer, text, url, chat, state, streamed=False)
        state.done = True

    def _handle_chunk(
        self,
        chunk: Any,
        raw: str,
        url: str,
        chat: bool,
        state: _StreamState,
        *,
        streamed: bool,
    ) -> None:
        def malformed(why: str) -> EngineError:
            return EngineError(
                f"malformed chunk from {url}: {why}: {_one_line(raw, _ERROR_BODY_CHARS)}"
            )

        if not isinstance(chunk, dict):
            raise malformed("not a JSON object")
        if chunk.get("error"):
            raise EngineError(
                f"server at {url} reported an error: "
                f"{_error_text(chunk['error'], _ERROR_BODY_CHARS)}"
            )
        usage = chunk.get("usage")
        if usage is not None:
            if not isinstance(usage, dict):
                raise malformed("'usage' is not an object")
            self._take_usage(usage, state)
        timings = chunk.get("timings")  # llama-server: prompt_n = prompt tokens evaluated
        if isinstance(timings, dict) and isinstance(timings.get("prompt_n"), int):
            state.prompt_tokens_evaluated = timings["prompt_n"]
        choices = chunk.get("choices")
        if choices is None and usage is None and timings is None:
            raise malformed("no 'choices'")
        if choices is None:
            return
        if not isinstance(choices, list):
            raise malformed("'choices' is not a list")
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                raise malformed("a choice is not an object")
            if chat:
                holder = choice.get("delta" if streamed else "message")
                if holder is None:
                    holder = {}
                if not isinstance(holder, dict):
                    raise malformed("'delta' is not an object")
                text = holder.get("content")
            else:
                text = choice.get("text")
            if text is not None and not isinstance(text, str):
                raise malformed("the text is not a string")
            if text:
                state.pending.append(text)
                state.content_chunks += 1
            reason = choice.get("finish_reason")
            if reason:
                state.finish_reason = str(reason)

    @staticmethod
    def _take_usage(usage: dict[str, Any], state: _StreamState) -> None:
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        if isinstance(prompt_tokens, int):
            state.prompt_tokens = prompt_tokens
        if isinstance(completion_tokens, int):
            state.completion_tokens = completion_tokens
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict) and isinstance(prompt_tokens, int):
            cached = details.get("cached_tokens")
            if isinstance(cached, int):
                state.prompt_tokens_evaluated = max(0, prompt_tokens - cached)

    # ------------------------------------------------------------------ model name

    def _resolve_model(self, conn: _Connection) -> str:
        """With no model named, use the server's only model (GET /models); else send none."""
        if self._model_resolved:
            return self.model
        url = self.base_url + "/models"
        try:
            resp = self._request(conn, "GET", "/models", None)
            listing = json.loads(self._read_all(conn, resp, url))
            ids = [
                m["id"]
                for m in listing.get("data", [])
                if isinstance(m, dict) and isinstance(m.get("id"), str)
            ]
        except _Cancelled:
            raise
        except _StatusError:
            ids = []  # the server answered, just not with a model list
        except (ValueError, AttributeError, TypeError):
            ids = []
        finally:
            conn.close()
        self._model_resolved = True
        if len(ids) == 1:
            self.model = ids[0]
            self.name = f"openai:{self.model}"
        return self.model

    # ------------------------------------------------------------------ HTTP

    def _request(
        self, conn: _Connection, method: str, path: str, body: dict[str, Any] | None
    ) -> http.client.HTTPResponse:
        """Send one request on a fresh connection; return the response once it is 2xx."""
        url = self.base_url + path
        sock = self._connect(conn)
        http_conn: http.client.HTTPConnection
        if self._https:
            http_conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout_s, context=self._tls()
            )
        else:
            http_conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)
        http_conn.sock = sock
        conn.set_http(http_conn)
        headers = {
            "Accept": "text/event-stream" if body is not None else "application/json",
            "User-Agent": "verifix",
            "Connection": "close",
        }
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            http_conn.request(method, self._path + path, body=payload, headers=headers)
            resp = http_conn.getresponse()
        except Exception as exc:
            if conn.cancelled:
                raise _Cancelled from None
            raise self._io_error(exc, url, waiting=True) from None
        if 200 <= resp.status < 300:
            return resp
        raw = b""
        try:
            raw = resp.read(4096)
        except Exception:  # the status alone is still worth reporting
            if conn.cancelled:
                raise _Cancelled from None
        detail = _error_text(raw.decode("utf-8", errors="replace"), _ERROR_BODY_CHARS)
        message = f"server at {url} answered {resp.status}: {detail or resp.reason}"
        if resp.status in (401, 403):
            message += (
                " — check the API key (api_key, or the VERIFIX_API_KEY / OPENAI_API_KEY "
                "environment variables)"
                if self._api_key
                else " — the server wants an API key: set VERIFIX_API_KEY (or OPENAI_API_KEY)"
            )
        elif resp.status == 404 and not self._path.endswith("/v1"):
            message += " — does the base URL need to end in /v1?"
        raise _StatusError(message)

    def _connect(self, conn: _Connection) -> socket.socket:
        """A connected (and for https, handshaken) socket; cancellable while connecting."""
        deadline = time.monotonic() + self.connect_timeout_s
        try:
            infos = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise EngineError(
                f"cannot reach the OpenAI-compatible server at {self.base_url}: "
                f"cannot resolve {self._host!r} ({_describe(exc)}) — is it running?"
            ) from None
        last: BaseException | None = None
        for family, type_, proto, _, address in infos:
            sock = socket.socket(family, type_, proto)
            if not conn.attach(sock):
                sock.close()
                raise _Cancelled
            try:
                self._connect_one(sock, address, deadline, conn)
            except _Cancelled:
                raise
            except TimeoutError:
                raise EngineError(
                    f"no answer from {self.base_url} within {_seconds(self.connect_timeout_s)} s "
                    "(connecting)"
                ) from None
            except OSError as exc:
                sock.close()
                if conn.cancelled:
                    raise _Cancelled from None
                last = exc
                continue
            if self._https:
                sock = self._handshake(sock, deadline, conn)
            sock.settimeout(self.timeout_s)
            return sock
        reason = _describe(last) if last is not None else "no address"
        raise EngineError(
            f"cannot reach the OpenAI-compatible server at {self.base_url}: {reason}"
            " — is it running?"
        )

    @staticmethod
    def _connect_one(sock: socket.socket, address: Any, deadline: float, conn: _Connection) -> None:
        sock.setblocking(False)
        err = sock.connect_ex(address)
        while err in _IN_PROGRESS:
            if conn.cancelled:
                raise _Cancelled
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            _, writable, failed = select.select([], [sock], [sock], min(remaining, _POLL_S))
            if writable or failed:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if conn.cancelled:
            raise _Cancelled
        if err:
            raise OSError(err, os.strerror(err))
        sock.setblocking(True)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _handshake(self, sock: socket.socket, deadline: float, conn: _Connection) -> socket.socket:
        try:
            tls = self._tls().wrap_socket(
                sock, server_hostname=self._host, do_handshake_on_connect=False
            )
        except OSError as exc:
            raise EngineError(f"TLS setup for {self.base_url} failed: {_describe(exc)}") from None
        if not conn.attach(tls):
            tls.close()
            raise _Cancelled
        tls.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            tls.do_handshake()
        except TimeoutError:
            if conn.cancelled:
                raise _Cancelled from None
            raise EngineError(
                f"no answer from {self.base_url} within {_seconds(self.connect_timeout_s)} s "
                "(TLS handshake)"
            ) from None
        except OSError as exc:
            if conn.cancelled:
                raise _Cancelled from None
            raise EngineError(
                f"TLS handshake with {self.base_url} failed: {_describe(exc)}"
            ) from None
        return tls

    def _readline(
        self, conn: _Connection, resp: http.client.HTTPResponse, url: str
    ) -> bytes | None:
        """The next line of the stream, None at its end; raises _Cancelled or EngineError."""
        if conn.cancelled:
            raise _Cancelled
        try:
            line = resp.readline()
        except Exception as exc:
            if conn.cancelled:
                raise _Cancelled from None
            raise self._io_error(exc, url, waiting=False) from None
        if conn.cancelled:
            raise _Cancelled
        return line or None

    def _read_all(self, conn: _Connection, resp: http.client.HTTPResponse, url: str) -> bytes:
        try:
            return resp.read()
        except Exception as exc:
            if conn.cancelled:
                raise _Cancelled from None
            raise self._io_error(exc, url, waiting=False) from None

    def _io_error(self, exc: BaseException, url: str, *, waiting: bool) -> EngineError:
        if isinstance(exc, TimeoutError):
            return EngineError(f"no answer from {url} within {_seconds(self.timeout_s)} s")
        if isinstance(exc, http.client.RemoteDisconnected):
            return EngineError(f"server at {url} closed the connection without answering")
        if isinstance(exc, ssl.SSLError):
            return EngineError(f"TLS error talking to {url}: {_describe(exc)}")
        if isinstance(exc, (OSError, http.client.HTTPException)):
            what = "sending the request to" if waiting else "the stream from"
            return EngineError(f"{what} {url} broke off: {_describe(exc)}")
        return EngineError(f"request to {url} failed: {type(exc).__name__}: {_describe(exc)}")


class _StreamState:
    """What one call has gathered from the stream so far."""

    def __init__(self) -> None:
        self.pending: list[str] = []  # text pieces parsed but not yet fed to the stop scanner
        self.content_chunks = 0
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.prompt_tokens_evaluated: int | None = None
        self.finish_reason: str | None = None
        self.stop_hit = False
        self.done = False
        self.cancelled = False


def _error_text(value: Any, limit: int) -> str:
    """The message inside an OpenAI-style error body, else the body itself; one line."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return _one_line(value, limit)
    if isinstance(parsed, dict):
        inner = parsed.get("error", parsed)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return _one_line(inner["message"], limit)
        if isinstance(inner, str):
            return _one_line(inner, limit)
    text = value if isinstance(value, str) else json.dumps(value)
    return _one_line(text, limit)
