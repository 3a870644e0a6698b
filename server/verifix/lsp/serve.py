"""`verifix serve`: stdio by default; --tcp on a loopback address only (whoever connects can
make the server run code, sandboxed or not: reach a remote machine through an SSH tunnel).
Over --tcp, one process, one model and one job queue serve every editor window."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import sys
from typing import BinaryIO

from pygls.io_ import run_async

from verifix.lsp.context import Shared
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


def run(tcp: tuple[str, int] | None) -> int:
    logging.basicConfig(level=logging.WARNING, format="verifix: %(message)s")  # stderr only
    if tcp is None:
        VerifixServer().start_io(sys.stdin.buffer, _protocol_stdout())
        return 0
    try:
        asyncio.run(_serve_tcp(*tcp))
    except KeyboardInterrupt:
        pass
    return 0


def _protocol_stdout() -> BinaryIO:
    """The LSP stream on a descriptor of its own, with fd 1 sent to stderr: whatever else
    writes to stdout, or points it elsewhere (llama-cpp-python sends fd 1 to /dev/null while
    the model loads), then never touches the protocol, and no answer is lost."""
    stream = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


async def _serve_tcp(host: str, port: int) -> None:
    """A VerifixServer per editor window, all sharing one Shared."""
    shared = Shared(process_wide=True)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server = VerifixServer(shared)
        stop = server.attach(writer)
        try:
            await run_async(stop_event=stop, reader=reader, protocol=server.protocol, logger=log,
                            error_handler=server.report_server_error)
        finally:
            server.close_connection()

    listener = await asyncio.start_server(connection, host, port)
    log.warning("listening on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
    async with listener:
        await listener.serve_forever()
