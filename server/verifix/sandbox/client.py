"""The host's handle on one worker process: spawn it, talk frames to it, kill it for good."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any

from verifix.sandbox.errors import SandboxError
from verifix.sandbox.worker import FrameReader, ProtocolError, kill_descendants, write_frame

STARTUP_TIMEOUT_S = 30.0
_LOG_TAIL = 2000

# Processes are started from one long-lived thread: bwrap --die-with-parent (and the weak
# worker's PR_SET_PDEATHSIG) fire when the *thread* that forked them exits, not the process.
_spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                 thread_name_prefix="verifix-sandbox-spawn")


class WorkerDied(SandboxError):
    """The worker process ended or stopped answering in the middle of a job."""


class WorkerProcess:
    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: str,
                 in_pid_namespace: bool) -> None:
        self._in_pid_namespace = in_pid_namespace
        self._log = tempfile.TemporaryFile(prefix="verifix-sandbox-log-")
        self._killed = threading.Event()
        self._reader = FrameReader()
        self._proc = _spawner.submit(
            subprocess.Popen, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, env=env, cwd=cwd, start_new_session=True, close_fds=True,
        ).result()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        self.runs = 0
        ready = self.read_event(time.monotonic() + STARTUP_TIMEOUT_S)
        if ready is None or ready.get("ev") != "ready":
            detail = self.log_tail() or "no output"
            self.kill()
            raise SandboxError(f"the sandbox worker did not start: {detail}")
        self.info = ready

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return not self._killed.is_set() and self._proc.poll() is None

    def send(self, obj: dict[str, Any], blob: bytes = b"") -> None:
        try:
            write_frame(self._in, obj, blob)
        except OSError as exc:
            raise WorkerDied(f"the sandbox worker is gone ({exc})") from None

    def read_event(self, deadline: float) -> dict[str, Any] | None:
        """The next event, or None at end of file, after a kill, or past the deadline."""
        while True:
            try:
                for obj, _ in self._reader.frames():
                    if isinstance(obj, dict):
                        return obj
            except ProtocolError:
                self.kill()
                return None
            if self._killed.is_set():
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                ready, _, _ = select.select([self._out], [], [], min(remaining, 0.25))
            except (OSError, ValueError):
                return None
            if not ready:
                continue
            try:
                data = os.read(self._out, 1 << 16)
            except OSError:
                return None
            if not data:
                return None
            self._reader.feed(data)

    def kill(self) -> None:
        """Kill the worker and everything it started; safe from any thread, more than once."""
        self._killed.set()
        proc = self._proc
        if proc.poll() is None:
            if not self._in_pid_namespace:
                # Weak: freeze the worker first, so it can neither fork nor reap meanwhile.
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, signal.SIGSTOP)
            # Everything below it, then it. With bwrap the PID namespace would also take its
            # processes down with its init (--die-with-parent); killing them here makes the
            # call return only once they are gone.
            kill_descendants(proc.pid)
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def close(self) -> None:
        if self.alive:
            with contextlib.suppress(SandboxError):
                self.send({"op": "exit"})
        self.kill()
        for stream in (self._proc.stdin, self._proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        with contextlib.suppress(OSError):
            self._log.close()

    def log_tail(self) -> str:
        try:
            self._log.seek(0, os.SEEK_END)
            size = self._log.tell()
            self._log.seek(max(0, size - _LOG_TAIL))
            return self._log.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
