"""`verifix serve`: stdio by default; --tcp on a loopback address only (whoever connects can
make the server run code, sandboxed or not: reach a remote machine through an SSH tunnel)."""

from __future__ import annotations

import ipaddress
import socket


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
    from verifix.lsp.server import serve

    serve(tcp)
    return 0
