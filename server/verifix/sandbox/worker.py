"""The in-sandbox fork server: started once per Sandbox, forks one limited child per execution.

One file, though past ~500 lines: it runs by path inside the boundary and imports only the stdlib.
Started as `python worker.py --scratch DIR ...`; the host imports the framing and process helpers
from here too, so both ends speak the same protocol: frames of `>II` (JSON length, blob length),
then JSON, then the blob.

Requests (host -> worker): {"op": "checks" | "pytest" | "exit", ...}.
Events (worker -> host): {"ev": "ready" | "result" | "item" | "collect_error" | "done" | ...}.
The children's messages reach the worker over their own pipe; a child never sees the host's pipes.
"""

from __future__ import annotations

import abc
import argparse
import ast
import builtins
import contextlib
import errno
import functools
import io
import json
import operator
import os
import resource
import select
import shutil
import signal
import stat
import struct
import sys
import time
import types
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

HEADER = struct.Struct(">II")
MAX_JSON = 32 << 20
MAX_BLOB = 1 << 30
GRACE_S = 0.5  # the server's SIGKILL follows a check's own alarm by this much
WATCH_INTERVAL_S = 0.1  # how often the server sums the memory of a run's processes
VALUE_LIMIT = 2000
MESSAGE_LIMIT = 600
FAILURE_TEXT_LIMIT = 8000

_SHIELDED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1,
                     signal.SIGUSR2, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4

Send = Callable[[dict[str, Any]], None]  # one event from a child (or a reporter) to the server
Target = Callable[[Send, int], None]  # what a forked child runs: (send, capture fd)


class ProtocolError(Exception):
    """A frame that is too large or not JSON: the peer is broken or hostile."""


# --- framing ---------------------------------------------------------------------------------


# Taken at import, before any candidate runs: rebinding json.dumps or os.write changes nothing.
_dumps = json.dumps
_os_write = os.write
_exit = os._exit


def encode_frame(obj: Any, blob: bytes = b"") -> bytes:
    # ASCII escapes: a lone surrogate in some message cannot break the encoding.
    data = _dumps(obj, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(data), len(blob)) + data + blob


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = _os_write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


def write_frame(fd: int, obj: Any, blob: bytes = b"") -> None:
    write_all(fd, encode_frame(obj, blob))


class FrameReader:
    """Incremental decoder: feed bytes as they arrive, take whole frames out."""

    def __init__(self, max_json: int = MAX_JSON, max_blob: int = MAX_BLOB) -> None:
        self._buf = bytearray()
        self._max_json = max_json
        self._max_blob = max_blob

    def feed(self, data: bytes) -> None:
        self._buf += data

    def frames(self) -> Iterator[tuple[Any, bytes]]:
        while len(self._buf) >= HEADER.size:
            json_len, blob_len = HEADER.unpack_from(self._buf)
            if json_len > self._max_json or blob_len > self._max_blob:
                raise ProtocolError(f"frame too large ({json_len} + {blob_len} bytes)")
            end = HEADER.size + json_len + blob_len
            if len(self._buf) < end:
                return
            raw = bytes(self._buf[HEADER.size : HEADER.size + json_len])
            blob = bytes(self._buf[HEADER.size + json_len : end])
            del self._buf[:end]
            try:
                obj = json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                raise ProtocolError(f"bad frame: {exc}") from None
            yield obj, blob


def read_frame(fd: int, reader: FrameReader) -> tuple[Any, bytes] | None:
    """Blocking read of one frame; None at end of file."""
    while True:
        for frame in reader.frames():
            return frame
        try:
            data = os.read(fd, 1 << 16)
        except InterruptedError:
            continue
        if not data:
            return None
        reader.feed(data)


# --- processes -------------------------------------------------------------------------------


def _parent_map() -> dict[int, int]:
    """pid -> ppid of every live (not zombie) process visible in /proc."""
    parents: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return parents
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[0] not in (b"Z", b"X"):  # the dead can do no harm
            parents[int(name)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    parents = _parent_map()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def kill_descendants(root: int, rounds: int = 40) -> bool:
    """SIGKILL every descendant of `root`; True when none is left.

    Works because `root` is a child subreaper: a killed process's children are re-parented to it,
    so the next round finds them, also after setsid().
    """
    for _ in range(rounds):
        found = descendants(root)
        if not found:
            return True
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if root == os.getpid():
            reap_children()
        time.sleep(0.002)
    return not descendants(root)


def reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def count_processes_of(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
    return count


class _Libc:
    """prctl through ctypes, loaded once by the server (children inherit it)."""

    def __init__(self) -> None:
        try:
            import ctypes

            self._prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
        except (ImportError, OSError, AttributeError):
            self._prctl = None

    def prctl(self, option: int, value: int) -> bool:
        if self._prctl is None:
            return False
        return bool(self._prctl(option, value, 0, 0, 0) == 0)


def _keyed_sender(fd: int, key: str) -> Send:
    def send(obj: dict[str, Any]) -> None:
        write_frame(fd, {**obj, "key": key})

    return send


def _sealed_globals() -> dict[str, Any]:
    """A copy of this module's globals whose functions read the copy. The child runs them, so a
    candidate that imports this module and rebinds its names (`to_plain`, `write_frame`...)
    changes nothing of what reports its results."""
    sealed = dict(globals())
    for name, obj in list(sealed.items()):
        if isinstance(obj, types.FunctionType) and obj.__module__ == __name__:
            clone = types.FunctionType(obj.__code__, sealed, obj.__name__, obj.__defaults__,
                                       obj.__closure__)
            clone.__kwdefaults__ = obj.__kwdefaults__
            sealed[name] = clone
    return sealed


def _sealed_target(target: Target, sealed: dict[str, Any]) -> Target:
    if isinstance(target, functools.partial) and getattr(target.func, "__module__", "") == \
            __name__ and isinstance(sealed.get(target.func.__name__), types.FunctionType):
        return functools.partial(sealed[target.func.__name__], *target.args, **target.keywords)
    return target


# --- limits and child setup ------------------------------------------------------------------


def _set_limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(kind, (value, value))


def apply_limits(limits: dict[str, int], cpu_seconds: int) -> None:
    """rlimits of one child: address space, CPU, processes, file size, open files, no core."""
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_AS, int(limits["memory_bytes"]))
    _set_limit(resource.RLIMIT_CPU, max(1, int(cpu_seconds)))
    _set_limit(resource.RLIMIT_FSIZE, int(limits["fsize_bytes"]))
    _set_limit(resource.RLIMIT_NOFILE, int(limits["nofile"]))
    _set_limit(resource.RLIMIT_NPROC, int(limits["nproc"]))


class _Output(io.TextIOBase):
    """Unbuffered text stream on an fd: nothing stale survives a failed write or a kill."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.buffer = _RawOutput(fd)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "backslashreplace"

    def write(self, text: str) -> int:
        write_all(self._fd, str(text).encode("utf-8", "backslashreplace"))
        return len(text)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        return None


class _RawOutput(io.RawIOBase):
    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        write_all(self._fd, bytes(data))
        return len(data)

    def fileno(self) -> int:
        return self._fd


def take_output(capture_fd: int, limit: int) -> str:
    """The capped text written to the capture file, which is then emptied for the next check."""
    try:
        size = os.fstat(capture_fd).st_size
        data = os.pread(capture_fd, limit, 0)
        os.ftruncate(capture_fd, 0)
        os.lseek(capture_fd, 0, os.SEEK_SET)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    if size > limit:
        text += f"\n[... {size - limit} more bytes of output dropped]"
    return text


# --- running checks (inside the child) --------------------------------------------------------


class CheckTimeout(BaseException):
    """Raised by the per-check alarm; a BaseException so `except Exception` cannot swallow it."""


_alarm_armed = False


def _on_alarm(signum: int, frame: Any) -> None:
    if _alarm_armed:
        raise CheckTimeout()


def _arm(seconds: float) -> None:
    global _alarm_armed
    _alarm_armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))


def _disarm() -> None:
    global _alarm_armed
    _alarm_armed = False
    signal.setitimer(signal.ITIMER_REAL, 0)


def _one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ is the candidate's problem
        text = f"<repr failed: {type(exc).__name__}>"
    if not isinstance(text, str):
        text = "<repr returned a non-string>"
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 3] + "..."


def _str(value: Any) -> str:
    try:
        return str(value)
    except Exception as exc:  # noqa: BLE001
        return f"<str failed: {type(exc).__name__}>"


def describe_exception(exc: BaseException) -> str:
    """`Type: text (line N of the candidate)`, one line."""
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "output or file size limit exceeded (RLIMIT_FSIZE)"
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return f"{type(exc).__name__}: the memory limit was reached"
    text = _str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<candidate>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is not None:
        message += f" (line {line} of the candidate)"
    return _one_line(message)


def _raised_in_check(exc: BaseException) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last == "<check>"


_COMPARISONS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}


# What the child reports of a value, taken when the worker starts, before any candidate runs:
# a candidate that rebinds a builtin or a module attribute changes none of these.
_type = type
_compile = compile
_exec = exec
_eval = eval
_float_hex = float.hex
_int_format = int.__format__
_bytes_hex = bytes.hex
_get_attribute = object.__getattribute__
_type_attribute = type.__getattribute__
PLAIN_NODES = 100_000
PLAIN_DEPTH = 100
PLAIN_CHARS = 500_000  # a non-ASCII character takes 6 bytes of JSON: under the 4 MiB frame


_CONTAINER_TAGS: dict[type, str] = {list: "l", tuple: "t", set: "S", frozenset: "F"}


class _TooLarge(Exception):
    pass


def _type_name(cls: Any) -> tuple[str, str]:
    names = []
    for attr in ("__module__", "__qualname__"):
        try:
            name = _type_attribute(cls, attr)
        except BaseException:  # noqa: BLE001
            name = "?"
        names.append(name if _type(name) is str else "?")
    return names[0], names[1]


def to_plain(value: Any) -> list[Any]:
    """`value` as tagged lists of JSON types (see verifix.sandbox.judging.decode): builtin
    values by their exact type only, anything else as its class and `__dict__` fields."""
    budget = [PLAIN_NODES, PLAIN_CHARS]

    def walk(x: Any, depth: int) -> list[Any]:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLarge(f"more than {PLAIN_NODES} parts")
        if depth > PLAIN_DEPTH:
            raise _TooLarge(f"nested deeper than {PLAIN_DEPTH}")
        t = _type(x)
        if x is None:
            return ["N"]
        if t is bool:
            return ["b", x is True]
        if t is int:
            return ["i", _int_format(x, "x")]
        if t is float:
            return ["f", _float_hex(x)]
        if t is complex:
            return ["c", _float_hex(x.real), _float_hex(x.imag)]
        if t is str or t is bytes or t is bytearray:
            budget[1] -= len(x)
            if budget[1] < 0:
                raise _TooLarge(f"more than {PLAIN_CHARS} characters")
            if t is str:
                return ["s", x]
            return ["y" if t is bytes else "Y", _bytes_hex(bytes(x))]
        if t is list or t is tuple or t is set or t is frozenset:
            return [_CONTAINER_TAGS[t], [walk(e, depth + 1) for e in x]]
        if t is dict:
            return ["d", [[walk(k, depth + 1), walk(v, depth + 1)] for k, v in x.items()]]
        module, qualname = _type_name(t)
        try:
            fields = _get_attribute(x, "__dict__")
        except BaseException:  # noqa: BLE001 - no __dict__ (slots, C types)
            fields = None
        if _type(fields) is dict:
            return ["o", module, qualname, [[k, walk(v, depth + 1)]
                                            for k, v in fields.items() if _type(k) is str]]
        return ["x", module, qualname]

    return walk(value, 0)


class _Check:
    """One check snippet run against the candidate's namespace."""

    def __init__(self, source: str, namespace: dict[str, Any]) -> None:
        self.source = source
        self.namespace = namespace
        self.value: str | None = None

    def _eval(self, node: ast.expr) -> Any:
        code = compile(ast.Expression(body=node), "<check>", "eval")
        return eval(code, self.namespace)  # noqa: S307 - running it is the point (in the sandbox)

    def _text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)

    def run(self) -> str | None:
        """Run the snippet; the failure message of its first false assert, else None."""
        tree = ast.parse(self.source, "<check>", "exec")
        for stmt in tree.body:
            if isinstance(stmt, ast.Assert):
                failure = self._assert(stmt)
                if failure is not None:
                    return failure
            elif isinstance(stmt, ast.Expr):
                self.value = _repr(self._eval(stmt.value))
            else:
                module = ast.Module(body=[stmt], type_ignores=[])
                exec(compile(module, "<check>", "exec"), self.namespace)  # noqa: S102
        return None

    def _assert(self, stmt: ast.Assert) -> str | None:
        test = stmt.test
        single = isinstance(test, ast.Compare) and len(test.ops) == 1
        if isinstance(test, ast.Compare) and single and type(test.ops[0]) in _COMPARISONS:
            left = self._eval(test.left)  # evaluated once: its repr is the check's value
            self.value = _repr(left)
            right = self._eval(test.comparators[0])
            symbol, compare = _COMPARISONS[type(test.ops[0])]
            if compare(left, right):
                return None
            if symbol == "==":
                detail = f"expected {_repr(right)}, got {self.value}"
            else:
                expected = f"{self._text(test.left)} {symbol} {_repr(right)}"
                detail = f"expected {expected}, got {self.value}"
        elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            operand = self._eval(test.operand)
            self.value = _repr(operand)
            if not operand:
                return None
            detail = f"expected {self._text(test.operand)} to be false, got {self.value}"
        else:
            result = self._eval(test)
            self.value = _repr(result)
            if result:
                return None
            detail = f"expected {self._text(test)} to be true, got {self.value}"
        if stmt.msg is not None:
            detail = f"{_str(self._eval(stmt.msg))} ({detail})"
        return _one_line(detail)


def _syntax_message(exc: SyntaxError) -> str:
    where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
    text = f"SyntaxError: {exc.msg} ({where})"
    if exc.text and exc.text.strip():
        text += f": {exc.text.strip()}"
    return _one_line(text)


def run_one_check(source: str, namespace: dict[str, Any], timeout: float) -> dict[str, Any]:
    check = _Check(source, dict(namespace))
    status, message = "passed", ""
    try:
        _arm(timeout)
        try:
            failure = check.run()
        finally:
            _disarm()
        if failure is not None:
            status, message = "failed", failure
    except CheckTimeout:
        status, message = "timeout", f"the check did not finish within {timeout:g} s"
    except SyntaxError as exc:
        if exc.filename == "<check>":
            status, message = "error", "the check itself is invalid: " + _syntax_message(exc)
        else:
            status, message = "error", describe_exception(exc)
    except AssertionError as exc:
        if _raised_in_check(exc):
            status, message = "failed", _one_line(_str(exc) or "assertion failed")
        else:
            status, message = "error", describe_exception(exc)
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt: all are errors
        status, message = "error", describe_exception(exc)
    return {"status": status, "message": message, "value": check.value}


def _compile_checks(checks: list[Any], start: int) -> list[Any]:
    """Each check's code, compiled before the candidate loads (so with the real `compile`):
    ("script", source) | ("call", setup code or None, call code) | ("invalid", message)."""
    out: list[Any] = []
    for index, check in enumerate(checks):
        if index < start:
            out.append(None)
            continue
        check = check if isinstance(check, dict) else {"call": _str(check), "script": True}
        if check.get("script"):
            out.append(("script", _str(check.get("call", ""))))
            continue
        try:
            setup = _str(check.get("setup") or "")
            setup_code = _compile(setup, "<check>", "exec") if setup.strip() else None
            out.append(("call", setup_code, _compile(_str(check.get("call", "")).strip(),
                                                     "<check>", "eval")))
        except SyntaxError as exc:
            out.append(("invalid", "the check itself is invalid: " + _syntax_message(exc)))
        except (ValueError, RecursionError, MemoryError) as exc:
            out.append(("invalid", "the check itself is invalid: " + describe_exception(exc)))
    return out


def run_one_call(setup: Any, call: Any, namespace: dict[str, Any], timeout: float
                 ) -> dict[str, Any]:
    """Run a check's setup and call; its value leaves as plain data, judged by the host."""
    try:
        _arm(timeout)
        try:
            if setup is not None:
                _exec(setup, namespace)
            value = _eval(call, namespace)
            try:
                data = to_plain(value)
            except _TooLarge as exc:
                data = ["?", _str(exc)]
        finally:
            _disarm()
    except CheckTimeout:
        return {"outcome": "timeout", "message": f"the check did not finish within {timeout:g} s"}
    except BaseException as exc:  # noqa: BLE001 - whatever it raised is its behaviour
        module, name = _type_name(_type(exc))
        return {"outcome": "raised", "exc": name, "exc_module": module,
                "message": describe_exception(exc)}
    return {"outcome": "value", "data": data}


def checks_child(job: dict[str, Any], start: int, send: Send, capture_fd: int) -> None:
    timeout = float(job["timeout"])
    limit = int(job["output_limit"])
    try:
        code = _compile(job["code"], "<candidate>", "exec")
    except SyntaxError as exc:
        send({"ev": "compile_error", "message": _syntax_message(exc)})
        return
    except (ValueError, RecursionError, MemoryError) as exc:
        send({"ev": "compile_error", "message": describe_exception(exc)})
        return
    compiled = _compile_checks(list(job["checks"]), start)
    namespace: dict[str, Any] = {"__name__": "candidate", "__builtins__": builtins}
    load: dict[str, Any] = {"status": "passed", "message": ""}
    try:
        _arm(timeout)
        try:
            _exec(code, namespace)  # inside the boundary and the child's rlimits
        finally:
            _disarm()
    except CheckTimeout:
        load = {"status": "timeout", "message": f"loading the candidate took over {timeout:g} s"}
    except BaseException as exc:  # noqa: BLE001
        load = {"status": "error", "message": "the candidate failed to load: "
                + describe_exception(exc)}
    if load["status"] != "passed":
        send({"ev": "load_failed", **load, "output": take_output(capture_fd, limit)})
        return
    take_output(capture_fd, limit)
    send({"ev": "loaded"})
    for index in range(start, len(compiled)):
        began = time.monotonic()
        kind = compiled[index]
        if kind[0] == "script":
            judged = run_one_check(kind[1], namespace, timeout)
            outcome = {"outcome": "judged", **judged}
        elif kind[0] == "invalid":
            outcome = {"outcome": "error", "message": kind[1]}
        else:
            outcome = run_one_call(kind[1], kind[2], dict(namespace), timeout)
        outcome["seconds"] = round(time.monotonic() - began, 6)
        outcome["output"] = take_output(capture_fd, limit)
        send({"ev": "result", "index": index, **outcome})
    send({"ev": "done"})


# --- running pytest (inside the child) --------------------------------------------------------


def node_matches(nodeid: str, wanted: str) -> bool:
    """A requested id selects itself, its parametrisations, its class members, its directory."""
    wanted = wanted.rstrip("/")
    return (
        nodeid == wanted
        or nodeid.startswith(wanted + "::")
        or nodeid.startswith(wanted + "[")
        or nodeid.startswith(wanted + "/")
    )


class PytestReporter:
    """A pytest plugin: keeps the wanted items and streams one outcome per item."""

    def __init__(self, send: Send, wanted: list[str], skip: set[str], limit: int) -> None:
        self._send = send
        self._wanted = wanted
        self._skip = skip
        self._limit = limit
        self._current: dict[str, Any] | None = None

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        keep: list[Any] = []
        drop: list[Any] = []
        for item in items:
            chosen = item.nodeid not in self._skip and any(
                node_matches(item.nodeid, w) for w in self._wanted)
            (keep if chosen else drop).append(item)
        items[:] = keep
        if drop:
            config.hook.pytest_deselected(items=drop)
        self._send({"ev": "collected", "items": [item.nodeid for item in keep]})

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self._send({"ev": "collect_error", "nodeid": report.nodeid,
                        "message": self._cap(report.longreprtext)})

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self._current = {"nodeid": nodeid, "status": None, "message": "", "output": "",
                         "seconds": 0.0}
        self._send({"ev": "begin", "nodeid": nodeid})

    def pytest_runtest_logreport(self, report: Any) -> None:
        current = self._current
        if current is None or current["nodeid"] != report.nodeid:
            return
        current["seconds"] += float(getattr(report, "duration", 0.0) or 0.0)
        # Each phase's report repeats the sections of the phases before it: keep the latest.
        sections = [f"--- {name} ---\n{content}" for name, content in
                    getattr(report, "sections", []) if name.startswith("Captured") and content]
        if sections:
            current["output"] = self._cap("".join(sections))
        if current["status"] in ("failed", "error"):
            return
        if report.failed:
            current["status"] = "failed" if report.when == "call" else "error"
            current["message"] = self._cap(report.longreprtext)
        elif report.skipped:
            current["status"] = "skipped"
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
            if hasattr(report, "wasxfail"):
                reason = f"xfail: {report.wasxfail}".rstrip(": ")
            current["message"] = self._cap(_str(reason))
        elif report.when == "call" and current["status"] is None:
            current["status"] = "passed"

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        current = self._current
        if current is None:
            return
        if current["status"] is None:
            current["status"], current["message"] = "error", "the test produced no outcome"
        current["seconds"] = round(current["seconds"], 6)
        self._send({"ev": "item", **current})
        self._current = None

    def _cap(self, text: str) -> str:
        return text if len(text) <= self._limit else text[: self._limit] + "\n[... truncated]"


def pytest_child(job: dict[str, Any], skip: set[str], send: Send, capture_fd: int) -> None:
    project = os.getcwd()
    # .pth entries naming the project (editable installs) were skipped at startup, when its
    # copy was not there yet: read them again.
    import site

    for directory in site.getsitepackages() if hasattr(site, "getsitepackages") else []:
        site.addsitedir(directory)
    root = str(job.get("root") or project)
    if root != project:  # the copy is not at the project's path (weak mode): point there
        sys.path[:] = [project + p[len(root):] if p == root or p.startswith(root + os.sep)
                       else p for p in sys.path]
    sys.path.insert(0, project)  # as `python -m pytest` does
    import pytest

    reporter = PytestReporter(send, list(job["wanted"]), skip, FAILURE_TEXT_LIMIT)
    args = [*job["paths"], "-p", "no:cacheprovider", "--continue-on-collection-errors", "-q",
            "--color=no", f"--rootdir={project}"]
    code = pytest.main(args, plugins=[reporter])
    send({"ev": "done", "exit_code": int(code)})


# --- the server -------------------------------------------------------------------------------


def _proportional_memory(pid: int) -> int:
    """Bytes of PSS (shared pages split between sharers, so forks are not counted twice)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # older kernels: resident size, which over-counts shared pages
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Child:
    """One forked child and its message pipe, watched with select until a deadline."""

    def __init__(self, pid: int, rfd: int, capture_fd: int, key: str,
                 watchdog: Callable[[], str | None] | None = None) -> None:
        self.pid = pid
        self.key = key
        self.tampered = False
        self._watchdog = watchdog
        self._next_watch = time.monotonic() + WATCH_INTERVAL_S
        self.rfd = rfd
        self.capture_fd = capture_fd
        self.status: int | None = None
        self._reader = FrameReader(max_json=4 << 20, max_blob=0)
        self._pending: deque[dict[str, Any]] = deque()
        self._eof = False
        try:
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = -1
        os.set_blocking(rfd, False)

    def next(self, deadline: float) -> tuple[str, Any]:
        """("event", dict) | ("exit", wait status) | ("timeout", None) | ("limit", message)."""
        while True:
            if self.tampered:
                return "limit", "the candidate wrote to the sandbox's own report channel"
            if self._pending:
                return "event", self._pending.popleft()
            if self.status is not None:
                return "exit", self.status
            now = time.monotonic()
            if self._watchdog is not None and now >= self._next_watch:
                self._next_watch = now + WATCH_INTERVAL_S
                exceeded = self._watchdog()
                if exceeded:
                    return "limit", exceeded
            remaining = deadline - now
            if remaining <= 0:
                return "timeout", None
            if self._watchdog is not None:
                remaining = min(remaining, max(0.0, self._next_watch - now))
            watch = [] if self._eof else [self.rfd]
            if self._pidfd >= 0:
                watch.append(self._pidfd)
            else:
                remaining = min(remaining, 0.02)
            ready, _, _ = select.select(watch, [], [], remaining)
            if self.rfd in ready:
                self._read()
            if (self._pidfd < 0 or self._pidfd in ready) and self._poll_exit():
                self._read()  # whatever it wrote before dying

    def _read(self) -> None:
        # Bounded: a grandchild holding the pipe open must not keep the server reading forever.
        for _ in range(64):
            if self._eof:
                break
            try:
                data = os.read(self.rfd, 1 << 16)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            if not data:
                self._eof = True
                break
            self._reader.feed(data)
        try:
            for obj, _ in self._reader.frames():
                if not isinstance(obj, dict) or obj.pop("key", None) != self.key:
                    self.tampered = True
                    break
                self._pending.append(obj)
        except ProtocolError:
            self._eof = True  # a child forging garbage gets no more hearing

    def _poll_exit(self) -> bool:
        if self.status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return True
        if pid == self.pid:
            self.status = status
            return True
        return False

    def kill(self) -> None:
        if self.status is not None:
            return  # reaped: the pid may already belong to someone else
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        self._reap_within(2.0)

    def wait(self, seconds: float) -> None:
        self._reap_within(seconds)
        if self.status is None:
            self.kill()

    def _reap_within(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._poll_exit() and time.monotonic() < deadline:
            time.sleep(0.001)

    def partial_output(self, limit: int) -> str:
        return take_output(self.capture_fd, limit)

    def close(self) -> None:
        for fd in (self.rfd, self.capture_fd, self._pidfd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


def death_message(status: int) -> tuple[str, str]:
    """(status, message) for a child that died without reporting."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return "timeout", "the CPU time limit was reached (RLIMIT_CPU)"
        if sig == signal.SIGXFSZ:
            return "error", "output or file size limit exceeded (RLIMIT_FSIZE)"
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        if sig == signal.SIGSEGV:
            return "error", ("the process crashed with SIGSEGV (e.g. a C stack overflow from deep "
                             "recursion)")
        return "error", f"the process was killed by {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return "error", f"the process exited with status {code} before reporting"


# --- runs: what one job's children mean (in the server) ---------------------------------------


def as_seconds(value: Any) -> float | None:
    """A duration from an untrusted event: a number, or None."""
    return float(value) if isinstance(value, (int, float)) else None


def _clean_result(payload: dict[str, Any], index: int) -> dict[str, Any]:
    """Only the expected fields, with the expected types: the child is not trusted. A call's
    value is passed on as data for the host to judge; only a script's status comes from here."""
    outcome = payload.get("outcome")
    if outcome not in ("value", "raised", "timeout", "error", "judged"):
        outcome = "error"
    out: dict[str, Any] = {
        "ev": "result",
        "index": index,
        "outcome": outcome,
        "message": _one_line(_str(payload.get("message", ""))),
        "output": _str(payload.get("output", "")),
        "seconds": as_seconds(payload.get("seconds")),
    }
    if outcome == "value":
        out["data"] = payload.get("data")
    elif outcome == "raised":
        out["exc"] = _str(payload.get("exc", ""))[:200]
        out["exc_module"] = _str(payload.get("exc_module", ""))[:200]
    elif outcome == "judged":
        status = payload.get("status")
        value = payload.get("value")
        out["status"] = status if status in ("passed", "failed", "error", "timeout") else "error"
        out["value"] = None if value is None else _str(value)[:VALUE_LIMIT]
    return out


def _clean_item(payload: dict[str, Any]) -> dict[str, Any]:
    status = payload.get("status")
    if status not in ("passed", "failed", "error", "skipped"):
        status = "error"
    return {
        "ev": "item",
        "nodeid": _str(payload.get("nodeid")),
        "status": status,
        "message": _str(payload.get("message", ""))[:FAILURE_TEXT_LIMIT + 40],
        "output": _str(payload.get("output", ""))[:FAILURE_TEXT_LIMIT + 40],
        "seconds": as_seconds(payload.get("seconds")),
    }


class _Run(abc.ABC):
    """One job as `Server.drive` runs it: which child to fork next, what its events mean, and
    whom to blame when a child hangs, hits a limit or dies without an outcome."""

    def __init__(self, job: dict[str, Any], send: Send, cpu_seconds: int) -> None:
        self.job = job
        self.send = send
        self.cpu_seconds = cpu_seconds
        self.deadline = 0.0

    def prepare(self, run_dir: str) -> str:
        """The directory the children run in."""
        return run_dir

    @abc.abstractmethod
    def next_target(self) -> Target | None:
        """What the next child runs; None when the run is over."""

    @abc.abstractmethod
    def started(self) -> None:
        """A child was forked: reset what is per child, set the first deadline."""

    @abc.abstractmethod
    def on_event(self, child: Child, payload: dict[str, Any]) -> bool:
        """Handle one event of the child; True when the child is done."""

    @abc.abstractmethod
    def timeout_message(self) -> str: ...

    @abc.abstractmethod
    def on_failure(self, child: Child, status: str, message: str) -> None:
        """The child hung, hit a limit or died: report it against what was under way."""

    def after_child(self) -> None:
        return None


class _ChecksRun(_Run):
    """Load the candidate and run checks from `start` on; a child that fails one is replaced by
    a fresh one that goes on after it."""

    def __init__(self, job: dict[str, Any], send: Send) -> None:
        self.checks = job["checks"]
        self.timeout = float(job["timeout"])
        self.limit = int(job["output_limit"])
        super().__init__(job, send, int(self.timeout * (len(self.checks) + 1)) + 2)
        self.next_index = int(job.get("start", 0))
        self.first = self.next_index
        self.loaded = False
        self.stopped = False  # the candidate did not compile or load: no check can run

    def next_target(self) -> Target | None:
        if self.stopped or self.next_index >= len(self.checks):
            return None
        return functools.partial(checks_child, self.job, self.next_index)

    def started(self) -> None:
        self.first = self.next_index
        self.loaded = False
        self.deadline = time.monotonic() + self.timeout + GRACE_S

    def on_event(self, child: Child, payload: dict[str, Any]) -> bool:
        ev = payload.get("ev")
        if ev == "compile_error":
            self.send({"ev": "compile_error", "message": _one_line(_str(payload.get("message")))})
            self.stopped = True
            return True
        if ev == "load_failed":
            self.send({"ev": "load_failed", "status": payload.get("status"),
                       "message": _str(payload.get("message")),
                       "output": _str(payload.get("output"))})
            self.stopped = True
            return True
        if ev == "loaded":
            self.loaded = True
        elif ev == "result" and payload.get("index") == self.next_index:
            self.send(_clean_result(payload, self.next_index))
            self.next_index += 1
        elif ev == "done":
            child.wait(1.0)
            return True
        self.deadline = time.monotonic() + self.timeout + GRACE_S
        return False

    def timeout_message(self) -> str:
        if self.loaded:
            return f"the check did not finish within {self.timeout:g} s"
        return f"loading the candidate took over {self.timeout:g} s"

    def on_failure(self, child: Child, status: str, message: str) -> None:
        output = child.partial_output(self.limit)
        if not self.loaded:
            self.send({"ev": "load_failed", "status": status, "message": message,
                       "output": output})
            self.stopped = True
        elif self.next_index < len(self.checks):
            self._blame(status, message, output)

    def after_child(self) -> None:
        if not self.stopped and self.next_index == self.first:  # "done" without a result (forged?)
            self._blame("error", "the check produced no result", "")

    def _blame(self, status: str, message: str, output: str) -> None:
        """The check under way gets this outcome; the next child starts after it."""
        self.send({"ev": "result", "index": self.next_index,
                   "outcome": "timeout" if status == "timeout" else "error",
                   "message": message, "output": output, "seconds": None})
        self.next_index += 1


class _PytestRun(_Run):
    """One pytest session over the project; a test that hangs or crashes its child is reported
    and skipped by the next child."""

    MAX_CHILDREN = 1000  # one more child per hung or crashing test, bounded

    def __init__(self, job: dict[str, Any], blob: bytes, send: Send,
                 project_at: str | None = None) -> None:
        super().__init__(job, send, int(job["cpu_seconds"]))
        self.blob = blob
        self.project_at = project_at
        self.timeout = float(job["timeout"])
        self.setup_timeout = float(job["setup_timeout"])
        self.children = 0
        self.skip: set[str] = set()
        self.expected: set[str] | None = None
        self.current: str | None = None
        self.finished = False

    def prepare(self, run_dir: str) -> str:
        project = self.project_at or os.path.join(run_dir, "project")
        write_files(project, self.job["files"], self.blob)
        return project

    def next_target(self) -> Target | None:
        if self.finished or self.children >= self.MAX_CHILDREN or (
                self.expected is not None and self.expected <= self.skip):
            return None
        self.children += 1
        return functools.partial(pytest_child, self.job, set(self.skip))

    def started(self) -> None:
        self.current = None
        self.deadline = time.monotonic() + self.setup_timeout

    def on_event(self, child: Child, payload: dict[str, Any]) -> bool:
        ev = payload.get("ev")
        if ev == "collected" and self.expected is None:
            self.expected = {_str(i) for i in payload.get("items", [])}
        elif ev == "collect_error":
            self.send({"ev": "collect_error", "nodeid": _str(payload.get("nodeid")),
                       "message": _str(payload.get("message"))})
        elif ev == "begin":
            self.current = _str(payload.get("nodeid"))
            self.deadline = time.monotonic() + self.timeout
        elif ev == "item" and payload.get("nodeid") == self.current:
            self.send(_clean_item(payload))
            self.skip.add(_str(self.current))
            self.current = None
            self.deadline = time.monotonic() + self.setup_timeout
        elif ev == "done":
            output = child.partial_output(FAILURE_TEXT_LIMIT)
            self.send({"ev": "session_done", "exit_code": payload.get("exit_code"),
                       "output": output[-FAILURE_TEXT_LIMIT:]})
            child.wait(2.0)
            self.finished = True
            return True
        return False

    def timeout_message(self) -> str:
        if self.current:
            return f"the test did not finish within {self.timeout:g} s"
        return f"pytest did not start or finish within {self.setup_timeout:g} s"

    def on_failure(self, child: Child, status: str, message: str) -> None:
        if self.current is None:
            output = child.partial_output(FAILURE_TEXT_LIMIT)
            self.send({"ev": "session_error", "status": status, "message": message,
                       "output": output[-4000:]})
            self.finished = True
        else:
            self.send({"ev": "item", "nodeid": self.current, "status": status,
                       "message": message, "output": "", "seconds": None})
            self.skip.add(self.current)


class Server:
    def __init__(self, args: argparse.Namespace, out_fd: int) -> None:
        self.out_fd = out_fd
        self.scratch = args.scratch
        self.project_at = args.project_at or None  # a tmpfs at the project's own path
        self.pidns = args.pidns
        self.wipe_tmp = args.wipe_tmp
        self.nproc_base = args.nproc_base
        self.libc = _Libc()
        self.runs = 0
        self.clean = True
        self.pytest_warm = False
        self.mounts = frozenset(mount_points())  # fixed by bwrap before we started

    def send(self, obj: dict[str, Any]) -> None:
        write_frame(self.out_fd, obj)

    # -- children --

    def spawn(self, target: Target, run_dir: str, limits: dict[str, int],
              cpu_seconds: int) -> Child:
        rfd, wfd = os.pipe()
        if hasattr(os, "memfd_create"):
            capture_fd = os.memfd_create("verifix-output", os.MFD_CLOEXEC)
        else:  # pragma: no cover - non-Linux fallback
            capture_fd = os.open(run_dir, os.O_TMPFILE | os.O_RDWR, 0o600)
        nproc = limits["nproc"] + self.nproc_base + count_processes_of(os.getuid())
        # Every frame of the child carries this key: one without it was written by the candidate.
        key = os.urandom(16).hex()
        pid = os.fork()
        if pid == 0:  # the child: nothing here may return into the server loop
            code, exit_now = 0, _exit  # a local: the candidate may rebind the module's names
            try:
                os.setsid()  # its own group, so kill(0) cannot reach the server
                self.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                os.close(rfd)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(capture_fd, 1)
                os.dup2(capture_fd, 2)
                keep = sorted({wfd, capture_fd})
                os.closerange(3, keep[0])
                # The project's Python runs this file too: nothing newer than 3.9 here.
                for low, high in zip(keep, [*keep[1:], 1 << 16]):  # noqa: B905
                    os.closerange(low + 1, high)
                os.set_inheritable(capture_fd, False)
                os.chdir(run_dir)
                os.environ["HOME"] = run_dir
                for sig in _SHIELDED_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
                sealed = _sealed_globals()
                signal.signal(signal.SIGALRM, sealed["_on_alarm"])
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in any Python program
                # The server reads our /proc files (memory); only the server is undumpable.
                self.libc.prctl(PR_SET_DUMPABLE, 1)
                sys.stdout = _Output(1)
                sys.stderr = _Output(2)
                sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
                apply_limits({**limits, "nproc": nproc}, cpu_seconds)
                _sealed_target(target, sealed)(sealed["_keyed_sender"](wfd, key), capture_fd)
            except BaseException:  # noqa: BLE001 - the server sees the death and this text
                code = 70
                with contextlib.suppress(BaseException):
                    import traceback

                    os.write(2, traceback.format_exc()[-4000:].encode("utf-8", "replace"))
            exit_now(code)
        os.close(wfd)
        total = int(limits.get("total_memory_bytes", 0))
        return Child(pid, rfd, capture_fd, key,
                     (lambda: self.check_memory(total)) if total else None)

    def run_processes(self) -> list[int]:
        if self.pidns:
            return [p for p in _parent_map() if p not in (1, os.getpid())]
        return descendants(os.getpid())

    def check_memory(self, total: int) -> str | None:
        """RLIMIT_AS binds each process; this binds all of a run's processes together."""
        used = sum(_proportional_memory(pid) for pid in self.run_processes())
        if used > total:
            return (f"the run's processes together used {used >> 20} MiB, over the "
                    f"{total >> 20} MiB limit")
        return None

    def cleanup_processes(self) -> bool:
        """Kill everything a run left behind; True when nothing is left."""
        if self.pidns:
            for _ in range(20):
                # In our own PID namespace kill(-1) reaches every process but init and us.
                with contextlib.suppress(OSError):
                    os.kill(-1, signal.SIGKILL)
                time.sleep(0.001)
                reap_children()
                if not self.run_processes():
                    return True
            return False
        return kill_descendants(os.getpid())

    def new_run_dir(self) -> str:
        self.runs += 1
        path = os.path.join(self.scratch, f"run-{self.runs}")
        os.mkdir(path, 0o700)
        return path

    def finish_run(self) -> None:
        clean = self.cleanup_processes()
        # The whole scratch, not only the run's dir: a run may write next to it.
        clean = wipe(self.scratch, remove_root=False, keep=self.mounts) and clean
        if self.project_at:
            clean = wipe(self.project_at, remove_root=False, keep=self.mounts) and clean
        if self.wipe_tmp:
            clean = wipe("/tmp", remove_root=False, keep=self.mounts) and clean
        self.clean = self.clean and clean

    # -- jobs --

    def drive(self, run: _Run) -> None:
        """Fork the run's children one after another, each watched until it is done."""
        run_dir = self.new_run_dir()
        recycle = False
        try:
            cwd = run.prepare(run_dir)
            while (target := run.next_target()) is not None:
                child = self.spawn(target, cwd, run.job["limits"], run.cpu_seconds)
                run.started()
                try:
                    while True:
                        kind, payload = child.next(run.deadline)
                        if kind == "event":
                            if run.on_event(child, payload):
                                break
                            continue
                        # A hang, a limit or a death without an outcome: blame what was under way.
                        recycle = True
                        if kind == "timeout":
                            child.kill()
                            status, message = "timeout", run.timeout_message()
                        elif kind == "limit":
                            child.kill()
                            status, message = "error", str(payload)
                        else:
                            status, message = death_message(int(payload))
                        run.on_failure(child, status, message)
                        break
                finally:
                    child.kill()
                    child.close()
                    self.cleanup_processes()
                run.after_child()
        finally:
            self.finish_run()
            self.send({"ev": "done", "recycle": recycle or not self.clean})

    def run_checks(self, job: dict[str, Any]) -> None:
        self.drive(_ChecksRun(job, self.send))

    def run_pytest(self, job: dict[str, Any], blob: bytes) -> None:
        run = _PytestRun(job, blob, self.send, self.project_at)
        try:
            import pytest  # noqa: F401 - imported once here, so each child starts warm
        except ImportError:
            self.send({"ev": "session_error",
                       "message": "pytest is not installed in the interpreter's environment"})
            self.send({"ev": "done", "recycle": False})
            return
        if not self.pytest_warm:
            self.pytest_warm = True
            self.warm_pytest_plugins(run.setup_timeout)  # before the run: it wipes the scratch
        self.drive(run)

    def warm_pytest_plugins(self, timeout: float) -> None:
        """Import what the installed pytest plugins import, but not the plugins themselves.

        pytest must import plugin modules itself to rewrite their asserts (importing them here
        makes it warn), but their dependencies (an LSP stack, asyncio...) can be loaded once
        here instead of in every child. A throwaway child finds out which modules those are;
        only modules installed under the interpreter's prefixes qualify, so nothing of the
        user's project (an editable install) is ever frozen into the server.
        """
        try:
            from importlib.metadata import distributions

            from _pytest.config import default_plugins
        except ImportError:
            return
        for name in default_plugins:  # pytest's own plugins are never rewritten
            with contextlib.suppress(BaseException):
                __import__(f"_pytest.{name}")
        plugins: list[str] = []
        excluded: set[str] = {"conftest"}
        for dist in distributions():
            entries = [e for e in dist.entry_points if e.group == "pytest11"]
            if not entries:
                continue
            plugins += [e.module for e in entries]
            for file in dist.files or []:
                first = str(file).replace("\\", "/").split("/")[0]
                excluded.add(first[:-3] if first.endswith(".py") else first)
        if not plugins:
            return
        roots = tuple({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix)})

        def discover(send: Send, capture_fd: int) -> None:
            before = set(sys.modules)
            for name in plugins:
                with contextlib.suppress(BaseException):
                    __import__(name)
            found = []
            for name, module in list(sys.modules.items()):
                file = getattr(module, "__file__", None)
                if name not in before and name.split(".")[0] not in excluded and (
                        file is None or os.path.realpath(file).startswith(roots)):
                    found.append(name)
            send({"ev": "modules", "names": found})

        run_dir = self.new_run_dir()
        limits = {"memory_bytes": 4 << 30, "fsize_bytes": 1 << 26, "nofile": 256, "nproc": 64}
        child = self.spawn(discover, run_dir, limits, int(timeout) + 1)
        names: list[str] = []
        try:
            kind, payload = child.next(time.monotonic() + timeout)
            if kind == "event" and payload.get("ev") == "modules":
                names = [_str(n) for n in payload.get("names", [])]
        finally:
            child.kill()
            child.close()
            self.finish_run()
        for name in names:
            with contextlib.suppress(BaseException):
                __import__(name)

    def serve(self, in_fd: int) -> None:
        reader = FrameReader()
        self.send({"ev": "ready", "pid": os.getpid(), "uid": os.getuid(), "pidns": self.pidns})
        while True:
            frame = read_frame(in_fd, reader)
            if frame is None:
                return
            job, blob = frame
            op = job.get("op") if isinstance(job, dict) else None
            if op == "checks":
                self.run_checks(job)
            elif op == "pytest":
                self.run_pytest(job, blob)
            elif op == "exit":
                return
            else:
                self.send({"ev": "done", "recycle": True, "error": f"unknown op {op!r}"})


def write_files(root: str, files: list[list[Any]], blob: bytes) -> None:
    """Write [relative path, size, executable] entries whose bytes follow each other in `blob`."""
    offset = 0
    os.makedirs(root, exist_ok=True)
    for rel, size, executable in files:
        rel = str(rel)
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ProtocolError(f"bad path {rel!r}")
        path = os.path.join(root, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(blob[offset : offset + int(size)])
        if executable:
            os.chmod(path, 0o755)
        offset += int(size)


def mount_points() -> set[str]:
    try:
        with open("/proc/self/mountinfo") as handle:
            return {line.split()[4] for line in handle if len(line.split()) > 4}
    except OSError:
        return set()


def wipe(path: str, remove_root: bool, keep: frozenset[str] = frozenset()) -> bool:
    """Remove a tree the run wrote, also where it took its own permissions away.

    Entries in `keep` or holding one (the boundary's bind mounts, e.g. a venv under /tmp) stay.
    """

    def unlock(func: Any, target: str, exc_info: Any) -> None:
        with contextlib.suppress(OSError):
            parent = os.path.dirname(target)
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
            func(target)

    def kept(target: str) -> bool:
        return any(k == target or k.startswith(target + "/") for k in keep)

    try:
        if remove_root:
            shutil.rmtree(path, onerror=unlock)
        else:
            for name in os.listdir(path):
                target = os.path.join(path, name)
                if kept(target):
                    continue
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target, onerror=unlock)
                else:
                    os.unlink(target)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if remove_root:
        return not os.path.exists(path)
    return all(kept(os.path.join(path, n)) for n in os.listdir(path))


def _drop_privileges(spec: str) -> None:
    uid, gid = (int(part) for part in spec.split(":"))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(("CapEff:", "CapPrm:")) and int(line.split()[1], 16) != 0:
                raise SystemExit("verifix worker: capabilities survived the privilege drop")


def _in_own_pid_namespace() -> bool:
    """In a fresh PID namespace only init (bwrap) and we exist at start."""
    return set(_parent_map()) <= {1, os.getpid()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verifix-sandbox-worker")
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--project-at", default="", help="write project copies here")
    parser.add_argument("--pidns", action="store_true", help="expect an own PID namespace")
    parser.add_argument("--wipe-tmp", action="store_true", help="/tmp is ours: empty it per run")
    parser.add_argument("--drop-to", default="", help="uid:gid to switch to (when run as root)")
    parser.add_argument("--nproc-base", type=int, default=0)
    parser.add_argument("--parent-death", action="store_true")
    args = parser.parse_args(argv)

    # The protocol pipes move off 0/1 so nothing printed by accident corrupts them.
    in_fd, out_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    if args.drop_to:
        _drop_privileges(args.drop_to)
    libc = _Libc()
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a run come back to us to be killed
    # No child may ptrace us or write our memory through /proc: we outlive every candidate.
    libc.prctl(PR_SET_DUMPABLE, 0)
    if args.parent_death:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if args.pidns and not _in_own_pid_namespace():
        # kill(-1) outside a PID namespace would hit every process of the user: refuse.
        print("verifix worker: --pidns given but not in an own PID namespace", file=sys.stderr)
        return 2
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the host went away: so do we
    for sig in _SHIELDED_SIGNALS:  # a stray kill(getppid()) from a child must not end us
        signal.signal(sig, signal.SIG_IGN)
    os.chdir(args.scratch)
    try:
        Server(args, out_fd).serve(in_fd)
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
