"""Host-side observers and controls for the sandbox probes (imported by the tests)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from verifix.sandbox import detect_isolation

STRONG = detect_isolation(force_weak=False).level == "strong"
needs_strong = pytest.mark.skipif(not STRONG, reason="bubblewrap does not work on this machine")
# Project tests run pytest from the interpreter's own environment (a venv), not from PYTHONPATH.
PYTEST_INSIDE = subprocess.run([sys.executable, "-s", "-c", "import pytest"], env={},
                               capture_output=True, check=False).returncode == 0
needs_pytest_inside = pytest.mark.skipif(
    not PYTEST_INSIDE, reason="pytest is not installed in the interpreter's environment")

# Forks a grandchild in its own session that execs `sleep {mark}`: nothing may survive the run.
SETSID_PROBE = """
import os
def probe():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "{mark}"])
        os._exit(0)
    return "escaped?"
"""


def run_plain(code: str, timeout: float = 30,
              **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The control: the same probe as a plain subprocess, no sandbox."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-c", code], text=True, timeout=timeout, check=False,
                          **kwargs)


def marker() -> str:
    """A `sleep` argument no other process on the machine has: 1000-1999 s plus a nonce."""
    return f"1{uuid.uuid4().int % 1000:03d}.{uuid.uuid4().int % 10**6:06d}"


def host_processes_with(mark: str) -> list[int]:
    """Host pids whose command line holds `mark` (zombies have none)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if mark.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def wait_gone(mark: str, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = host_processes_with(mark)
        if not left:
            return []
        time.sleep(0.05)
    return host_processes_with(mark)


class Listener:
    """A listening socket the test owns; records whether anything connected."""

    def __init__(self, family: int, address: str | tuple[str, int]) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()

    def connections(self, wait: float = 0.5) -> int:
        count = 0
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.sock], [], [], max(0.0, remaining))
            if not ready:
                return count
            with contextlib.suppress(BlockingIOError):
                conn, _ = self.sock.accept()
                conn.close()
                count += 1

    def close(self) -> None:
        self.sock.close()
