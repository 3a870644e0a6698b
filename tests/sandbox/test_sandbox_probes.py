"""Escape probes: each asserts the host-side effect, and a control run without the sandbox shows
that the same probe does detect the leak."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sandbox_helpers import (
    SETSID_PROBE,
    Listener,
    host_processes_with,
    kill_all,
    marker,
    needs_strong,
    run_plain,
    wait_gone,
)

from verifix.sandbox import Sandbox


def _probe(sandbox: Sandbox, code: str, check: str = "probe()"):
    report = sandbox.run_checks(code, [check])
    assert report.compile_error is None, report
    return report.results[0]


def _seen(result, text: str) -> bool:
    return any(text in (part or "") for part in (result.value, result.output, result.message))


# --- network ----------------------------------------------------------------------------------

TCP_PROBE = """
import socket
def probe():
    s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
    s.sendall(b"leak")
    s.close()
    return "connected"
"""


def _connect_probe(sandbox: Sandbox, listener: Listener, code: str):
    """The probe in the sandbox reaches nothing; the same probe run plainly does connect."""
    result = _probe(sandbox, code)
    assert listener.connections() == 0

    control = run_plain(code + "\nprint(probe())")
    assert "connected" in control.stdout
    assert listener.connections() == 1
    return result


def test_tcp_to_host_loopback_is_unreachable(sandbox: Sandbox, tcp_listener: Listener) -> None:
    code = TCP_PROBE.format(port=tcp_listener.address[1])
    assert _connect_probe(sandbox, tcp_listener, code).status == "error"


CTYPES_PROBE = """
import ctypes, socket, struct
def probe():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    if fd < 0:
        return "socket failed"
    addr = struct.pack("=HH4s8x", socket.AF_INET, socket.htons({port}), bytes([127, 0, 0, 1]))
    buf = ctypes.create_string_buffer(addr, len(addr))
    rc = libc.connect(fd, buf, len(addr))
    libc.close(fd)
    return "connected" if rc == 0 else "errno %d" % ctypes.get_errno()
"""


def test_ctypes_socket_connect_is_unreachable(sandbox: Sandbox, tcp_listener: Listener) -> None:
    code = CTYPES_PROBE.format(port=tcp_listener.address[1])
    assert _connect_probe(sandbox, tcp_listener, code).value != "'connected'"


UNIX_PROBE = """
import socket
def probe():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect({path!r})
    s.sendall(b"leak")
    s.close()
    return "connected"
"""


def test_unix_socket_in_home_is_invisible(sandbox: Sandbox, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    listener = Listener(socket.AF_UNIX, str(home / "agent.sock"))
    abstract = Listener(socket.AF_UNIX, f"\0verifix-probe-{os.getpid()}-{marker()}")
    try:
        for target in (str(home / "agent.sock"), abstract.address):
            code = UNIX_PROBE.format(path=target)
            result = _probe(sandbox, code)
            assert result.status == "error", result
        assert listener.connections() == 0
        assert abstract.connections() == 0

        for target in (str(home / "agent.sock"), abstract.address):
            control = run_plain(UNIX_PROBE.format(path=target) + "\nprint(probe())")
            assert "connected" in control.stdout, control.stderr
        assert listener.connections() == 1
        assert abstract.connections() == 1
    finally:
        listener.close()
        abstract.close()


# --- files and environment --------------------------------------------------------------------

WRITE_PROBE = """
import os
def probe():
    os.makedirs(os.path.dirname({path!r}), exist_ok=True)
    with open({path!r}, "w") as handle:
        handle.write("pwned")
    return "written"
"""


def test_write_outside_scratch_does_not_reach_host(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "outside" / "pwned.txt"
    target.parent.mkdir()
    result = _probe(sandbox, WRITE_PROBE.format(path=str(target)))
    assert not target.exists(), result  # written (at most) into the sandbox's own tmpfs

    control = run_plain(WRITE_PROBE.format(path=str(target)) + "\nprint(probe())")
    assert "written" in control.stdout
    assert target.read_text() == "pwned"


READ_PROBE = """
import os
def probe():
    for path in ({path!r}, os.path.expanduser("~/.ssh/id_rsa")):
        try:
            with open(path) as handle:
                return handle.read()
        except OSError as exc:
            last = exc
    return "unreadable: %s" % last
"""


def test_secret_file_in_home_is_unreadable(sandbox: Sandbox, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"SECRET-{marker()}"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(secret)
    monkeypatch.setenv("HOME", str(home))
    code = READ_PROBE.format(path=str(home / ".ssh" / "id_rsa"))
    result = _probe(sandbox, code)
    assert not _seen(result, secret)
    assert "unreadable" in (result.value or "")

    control = run_plain(code + "\nprint(probe())")
    assert secret in control.stdout


ENV_PROBE = """
import os
def probe():
    return os.environ.get("VERIFIX_PROBE_SECRET", "") + repr(sorted(os.environ))
"""


def test_environment_secret_is_not_passed(sandbox: Sandbox,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"ENVSECRET-{marker()}"
    monkeypatch.setenv("VERIFIX_PROBE_SECRET", secret)
    result = _probe(sandbox, ENV_PROBE)
    assert result.status == "passed"
    assert not _seen(result, secret)
    assert "VERIFIX_PROBE_SECRET" not in (result.value or "")

    control = run_plain(ENV_PROBE + "\nprint(probe())")
    assert secret in control.stdout


# --- processes and signals --------------------------------------------------------------------

SIGNAL_PROBE = """
import os, signal
def probe():
    sent = []
    for pid in ({test_pid}, os.getppid()):
        try:
            os.kill(pid, signal.SIGUSR1)
            sent.append(pid)
        except OSError:
            pass
    return sent
"""


def test_signals_do_not_reach_the_host(sandbox: Sandbox) -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    try:
        code = SIGNAL_PROBE.format(test_pid=os.getpid())
        _probe(sandbox, code)
        time.sleep(0.2)
        assert received == []
        assert sandbox.run_checks("def f():\n    return 1\n", ["assert f() == 1"]).passed

        run_plain(code + "\nprint(probe())")
        deadline = time.monotonic() + 2
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert received and set(received) == {signal.SIGUSR1}
    finally:
        signal.signal(signal.SIGUSR1, previous)


FORK_BOMB = """
import os
def probe():
    started = 0
    for _ in range({count}):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            try:
                os.setsid()
                os.execv("/bin/sleep", ["sleep", "{mark}"])
            finally:
                os._exit(0)
        started += 1
    return started
"""


def test_bounded_fork_bomb_is_capped_and_cleaned_up(sandbox: Sandbox) -> None:
    mark = marker()
    result = _probe(sandbox, FORK_BOMB.format(count=300, mark=mark))
    assert result.status == "passed", result
    assert int(result.value or "0") < 300  # RLIMIT_NPROC stopped it
    assert wait_gone(mark) == []  # and nothing it started survives the run

    control_mark = marker()
    try:
        run_plain(FORK_BOMB.format(count=20, mark=control_mark) + "\nprint(probe())",
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert len(host_processes_with(control_mark)) == 20
    finally:
        kill_all(host_processes_with(control_mark))


def test_setsid_escape_leaves_no_process(sandbox: Sandbox) -> None:
    mark = marker()
    result = _probe(sandbox, SETSID_PROBE.format(mark=mark))
    assert result.status == "passed"
    assert host_processes_with(mark) == []

    control_mark = marker()
    try:
        run_plain(SETSID_PROBE.format(mark=control_mark) + "\nprint(probe())",
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)
        assert len(host_processes_with(control_mark)) == 1
    finally:
        kill_all(host_processes_with(control_mark))


# --- resources --------------------------------------------------------------------------------


def test_busy_loop_times_out_and_leaves_nothing(sandbox: Sandbox) -> None:
    mark = marker()
    code = f"""
import os, subprocess
def spin():
    subprocess.Popen(["/bin/sleep", "{mark}"], start_new_session=True)
    while True:
        pass
"""
    started = time.monotonic()
    report = sandbox.run_checks(code, ["spin()", "1 + 1"])
    elapsed = time.monotonic() - started
    assert [r.status for r in report.results] == ["timeout", "passed"]
    assert elapsed < 3 + 3  # the 3 s per-check limit, plus slack on a noisy machine
    assert wait_gone(mark) == []

    try:
        with pytest.raises(subprocess.TimeoutExpired):  # killed by subprocess.run, not itself
            run_plain(code + "\nspin()", timeout=1, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
        assert host_processes_with(mark), "the control's child survives its parent's kill"
    finally:
        kill_all(host_processes_with(mark))


MEMORY_PROBE = """
import mmap
def probe():
    # 3 GiB of address space, one byte touched per MiB (a fast control, a real allocation).
    block = mmap.mmap(-1, 3 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for offset in range(0, len(block), 1 << 20):
        block[offset] = 1
    return "allocated %d" % len(block)
"""


def _allocation_refused(sandbox: Sandbox, code: str, reason: str, allocated: str) -> None:
    """The probe's allocation fails in the sandbox for `reason`; run plainly it succeeds."""
    result = _probe(sandbox, code)
    assert result.status == "error", result
    assert reason in result.message
    assert not _seen(result, "allocated")

    control = run_plain(code + "\nprint(probe())")
    assert allocated in control.stdout


def test_three_gib_allocation_fails(sandbox: Sandbox) -> None:
    _allocation_refused(sandbox, MEMORY_PROBE, "memory limit", "allocated")


FORK_MEMORY_PROBE = """
import os, time
def probe():
    children = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            block = bytearray(200 << 20)  # zero-filled: 200 MiB really resident
            time.sleep(1.5)
            os._exit(0 if block else 1)
        children.append(pid)
    ok = all(os.waitpid(pid, 0)[1] == 0 for pid in children)
    return "allocated 1200 MiB" if ok else "some failed"
"""


def test_memory_of_forked_processes_is_bounded_together(sandbox: Sandbox) -> None:
    # RLIMIT_AS binds each process (512 MiB here); the worker bounds their sum (1 GiB).
    _allocation_refused(sandbox, FORK_MEMORY_PROBE, "MiB limit", "allocated 1200 MiB")


FLOOD_PROBE = """
import sys
def probe():
    chunk = "x" * (1 << 20)
    for _ in range(100):
        sys.stdout.write(chunk)
    return "flooded"
"""


def test_output_flood_is_capped(sandbox: Sandbox, tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = sandbox.run_checks(FLOOD_PROBE, ["probe()", "2 + 2"])
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    flood, after = report.results
    assert flood.status == "error" and "limit" in flood.message
    assert len(flood.output) <= sandbox.limits.output_limit + 200
    assert after.status == "passed" and after.value == "4"
    assert grown_kib < 50 * 1024  # the host never held the 100 MB

    sink = tmp_path / "flood.out"
    with sink.open("w") as handle:
        run_plain(FLOOD_PROBE + "\nprobe()", stdout=handle, stderr=subprocess.DEVNULL)
    assert sink.stat().st_size >= 100 << 20


RECURSION_PROBE = """
import sys
def c_recursion():
    sys.setrecursionlimit(10**6)
    nested = []
    for _ in range(300000):
        nested = [nested]
    return len(repr(nested))

def py_recursion(n=0):
    return py_recursion(n + 1) + 1
"""


def test_deep_recursion_is_contained(sandbox: Sandbox) -> None:
    report = sandbox.run_checks(RECURSION_PROBE, ["c_recursion()", "py_recursion()", "3 * 3"])
    statuses = [r.status for r in report.results]
    assert statuses == ["error", "error", "passed"], report
    assert "SIGSEGV" in report.results[0].message or "Recursion" in report.results[0].message
    assert "RecursionError" in report.results[1].message

    control = run_plain(RECURSION_PROBE + "\nc_recursion()")
    assert control.returncode == -signal.SIGSEGV  # the probe really crashes a process


@needs_strong
def test_parallel_sandboxes_do_not_see_each_other() -> None:
    """Two sandboxes in two threads: each run sees only its own scratch files."""
    errors: list[str] = []
    code = """
import os
def probe(tag):
    open("mine.txt", "w").write(tag)
    return sorted(os.listdir("/sandbox"))
"""

    def work(tag: str) -> None:
        with Sandbox(timeout_s=3, force_weak=False) as sb:
            for _ in range(5):
                result = sb.run_checks(code, [f"probe({tag!r})"]).results[0]
                if result.status != "passed" or (result.value or "").count("run-") != 1:
                    errors.append(f"{tag}: {result}")

    threads = [threading.Thread(target=work, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
