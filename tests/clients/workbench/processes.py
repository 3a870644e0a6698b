"""The processes a test started, found by a marker in their environment (read from /proc).

A process group does not hold them all: a child may start its own session. The environment
is inherited however a process was started (only an explicit clear drops it), so code-server,
its extension host and the language server the extension starts all carry the marker.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "VERIFIX_WORKBENCH_RUN"


@dataclass(frozen=True)
class Proc:
    pid: int
    argv: tuple[str, ...]

    def is_language_server(self) -> bool:
        """`python -m verifix serve` (or the `verifix serve` script)."""
        args = [Path(a).name for a in self.argv]
        return "serve" in args and ("verifix" in args or any(
            a == "-m" and args[i + 1: i + 2] == ["verifix"] for i, a in enumerate(args)))

    def __str__(self) -> str:
        return f"{self.pid}: {' '.join(self.argv)}"


def marked(run_id: str) -> list[Proc]:
    """Live (not zombie) processes whose environment has MARKER=run_id."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found.append(Proc(int(entry.name), tuple(a.decode(errors="replace") for a in argv)))
    return found


def descendants(pid: int) -> list[Proc]:
    """Live processes below `pid`, found by their parent pid: a sandbox clears the environment
    of what it runs, the marker with it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            except OSError:  # gone meanwhile
                continue
            found.append(Proc(child, tuple(a.decode(errors="replace") for a in argv)))
    return found


def wait_gone(run_id: str, timeout: float) -> list[Proc]:
    """Waits until no marked process is left; returns those still there at the deadline."""
    deadline = time.monotonic() + timeout
    while (left := marked(run_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill(procs: list[Proc], sig: int) -> None:
    for p in procs:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
