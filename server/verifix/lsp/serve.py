"""`verifix serve`: stdio by default; a shared server on a UNIX socket (`--socket`, mode 0600 in
a 0700 directory of the user's) or on a loopback TCP port (`--tcp`). Whoever connects can make
the server run jobs over the owner's files, so TCP connections must open with an `initialize`
carrying the token written to a 0600 file; any other first message closes the connection
before anything is handled. One process, one model and one job queue serve every window."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import socket
import stat
import sys
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import platformdirs
from pygls.io_ import run_async

from verifix.lsp.context import Shared
from verifix.lsp.protocol import TOKEN_OPTION
from verifix.lsp.server import VerifixServer

log = logging.getLogger(__name__)


def parse_tcp(value: str) -> tuple[str, int]:
    """HOST:PORT with a loopback HOST; ValueError with one clear line otherwise."""
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"--tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got {value!r}")
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        raise ValueError(f"--tcp: cannot resolve {host!r}") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback
                                for a in addresses):
        raise ValueError(f"--tcp accepts loopback addresses only (127.0.0.1, ::1, localhost), "
                         f"got {host!r}; to reach another machine, tunnel over SSH")
    return host, int(port_text)


class ServeError(Exception):
    """A shared server cannot start: one line for the user."""


def runtime_dir() -> Path:
    """The user's private runtime directory for verifix (created 0700, checked to be ours)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        path = Path(platformdirs.user_runtime_dir("verifix"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(0o700)  # ours, but open to others: close it
        info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ServeError(f"{path} must be a directory of yours that only you can open "
                         f"(mode 0700)")
    return path


def default_socket() -> Path:
    return runtime_dir() / "verifix.sock"


def token_file(port: int) -> Path:
    """Where `serve --tcp` on `port` writes its token (the clients read it there)."""
    return runtime_dir() / f"tcp-{port}.token"


def run(tcp: tuple[str, int] | None = None, unix: Path | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="verifix: %(message)s")  # stderr only
    if tcp is None and unix is None:
        VerifixServer().start_io(sys.stdin.buffer, _protocol_stdout())
        return 0
    asyncio.run(_until_signalled(_serve_unix(unix) if unix is not None
                                 else _serve_tcp(*tcp)))  # type: ignore[misc]
    return 0


async def _until_signalled(serving: Awaitable[None]) -> None:
    """Serve until SIGTERM, SIGINT or SIGHUP, then clean up (the socket, the token file)."""
    task = asyncio.ensure_future(serving)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _protocol_stdout() -> BinaryIO:
    """The LSP stream on a descriptor of its own, with fd 1 sent to stderr: whatever else
    writes to stdout, or points it elsewhere (llama-cpp-python sends fd 1 to /dev/null while
    the model loads), then never touches the protocol, and no answer is lost."""
    stream = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


Connection = Callable[[Any, asyncio.StreamWriter], Awaitable[None]]


def _connections() -> Connection:
    """A VerifixServer per editor window, all sharing one Shared."""
    shared = Shared(process_wide=True)

    async def connection(reader: Any, writer: asyncio.StreamWriter) -> None:
        server = VerifixServer(shared)
        stop = server.attach(writer)
        try:
            await run_async(stop_event=stop, reader=reader, protocol=server.protocol, logger=log,
                            error_handler=server.report_server_error)
        finally:
            server.close_connection()

    return connection


async def _serve_unix(path: Path) -> None:
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ServeError(f"{path} exists and is not a socket")
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
            probe.connect(str(path))
            raise ServeError(f"a server already listens on {path}")
        path.unlink()  # a stale socket of a server that is gone
    old = os.umask(0o177)  # the socket is born 0600: no moment when others may connect
    try:
        listener = await asyncio.start_unix_server(_connections(), str(path))
    except OSError as exc:
        raise ServeError(f"cannot listen on {path}: {_reason(exc)}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    log.warning("listening on %s (only you can connect)", path)
    await _serve_until_done(listener, path)


async def _serve_tcp(host: str, port: int) -> None:
    token = secrets.token_urlsafe(32)
    serve = _connections()

    async def gated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await _first_message(reader, token)
        if first is None:
            writer.close()
            return
        await serve(_Replay(first, reader), writer)

    try:
        listener = await asyncio.start_server(gated, host, port)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {_reason(exc)}") from None
    # Written once the port is ours, so a second server cannot spoil the first one's token.
    path = token_file(port)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(token + "\n")
    log.warning("listening on %s; clients need the token in %s", ", ".join(
        str(s.getsockname()) for s in listener.sockets), path)
    await _serve_until_done(listener, path)


async def _serve_until_done(listener: asyncio.Server, leftover: Path) -> None:
    """Serve until cancelled; then `leftover` (the socket, the token file) goes too."""
    try:
        async with listener:
            await listener.serve_forever()
    finally:
        with contextlib.suppress(OSError):
            leftover.unlink()


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
FIRST_MESSAGE_LIMIT = 1 << 20
FIRST_MESSAGE_TIMEOUT_S = 10.0


async def _first_message(reader: asyncio.StreamReader, token: str) -> bytes | None:
    """The connection's first message re-encoded without the token, when it is an `initialize`
    whose initializationOptions carry the right token; None for anything else."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), FIRST_MESSAGE_TIMEOUT_S)
        match = _LENGTH.search(head)
        if match is None or int(match.group(1)) > FIRST_MESSAGE_LIMIT:
            return None
        body = await asyncio.wait_for(reader.readexactly(int(match.group(1))),
                                      FIRST_MESSAGE_TIMEOUT_S)
        message = json.loads(body)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            ValueError, ConnectionError):
        return None
    params = message.get("params") if isinstance(message, dict) else None
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    given = options.pop(TOKEN_OPTION, None) if isinstance(options, dict) else None
    if message.get("method") != "initialize" or not isinstance(given, str) or \
            not hmac.compare_digest(given.encode(), token.encode()):
        return None
    data = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(data), data)


class _Replay:
    """A reader that gives `first` (whole lines) before what follows on `reader`."""

    def __init__(self, first: bytes, reader: asyncio.StreamReader) -> None:
        self._first = first
        self._reader = reader

    async def readline(self) -> bytes:
        if self._first:
            line, sep, rest = self._first.partition(b"\n")
            self._first = rest
            return line + sep
        return await self._reader.readline()

    async def readexactly(self, n: int) -> bytes:
        taken, self._first = self._first[:n], self._first[n:]
        if len(taken) < n:
            taken += await self._reader.readexactly(n - len(taken))
        return taken
