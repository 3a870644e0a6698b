"""A Python interpreter that runs a project's tests: where it lives and what must be mounted.

The interpreter is asked once, in isolated mode (`-I`: no PYTHON* variables, no user site, not
the current directory on sys.path) from `/`, so nothing of the project runs on the host.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass

from verifix.sandbox.errors import SandboxError

_PROBE = """
import importlib.util, json, os, sys
spec = importlib.util.find_spec("pytest")
version = None
if spec is not None:
    try:
        from importlib.metadata import version as v
        version = v("pytest")
    except Exception:
        version = "?"
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],
    "path": [p for p in sys.path if p and os.path.isdir(p)],
    "pytest": version,
}))
"""


class InterpreterError(SandboxError):
    """The interpreter cannot run project tests; the message is one line with the fix."""


@dataclass(frozen=True)
class Interpreter:
    path: str  # its sys.executable (a venv's bin/python, not the base it links to)
    version: str
    prefixes: tuple[str, ...]
    sys_path: tuple[str, ...]  # directories on its sys.path (site-packages, .pth entries)
    pytest: str | None  # pytest's version, None when it does not import

    def require_pytest(self) -> None:
        if self.pytest is None:
            raise InterpreterError(f"pytest is not installed for {self.path}: run "
                                   f"`{self.path} -m pip install pytest`")

    def mounts(self, project: str | None = None) -> list[str]:
        """Directories to show read-only inside the sandbox: the prefixes (a venv inside the
        project too), the executable's directories, and sys.path entries outside them (editable
        installs elsewhere) but not inside `project`, whose copy is shown instead."""
        own = list(self.prefixes) + [os.path.dirname(os.path.abspath(self.path)),
                                     os.path.dirname(os.path.realpath(self.path))]
        extra = [p for p in self.sys_path if not p.endswith(".zip")]
        out: list[str] = []
        for path, always in [(p, True) for p in own] + [(p, False) for p in extra]:
            for form in (os.path.abspath(path), os.path.realpath(path)):
                inside = project is not None and (
                    form == project or form.startswith(project + os.sep))
                if (always or not inside) and os.path.isdir(form) and form not in out:
                    out.append(form)
        return out


def probe(path: str, timeout_s: float = 20.0) -> Interpreter:
    """Ask `path` about itself; InterpreterError (one line) when it is missing or broken."""
    if not os.path.exists(path):
        raise InterpreterError(f"the Python interpreter {path} does not exist")
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise InterpreterError(f"{path} is not an executable Python interpreter")
    return _probe(os.path.abspath(path), os.stat(path).st_mtime_ns, timeout_s)


@functools.lru_cache(maxsize=16)
def _probe(path: str, _mtime: int, timeout_s: float) -> Interpreter:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    try:
        done = subprocess.run([path, "-I", "-c", _PROBE], capture_output=True, text=True,
                              timeout=timeout_s, cwd="/", env=env, stdin=subprocess.DEVNULL,
                              check=False)
        facts = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        raise InterpreterError(f"{path} did not answer within {timeout_s:g} s") from None
    except (OSError, ValueError, IndexError) as exc:
        detail = getattr(exc, "strerror", None) or "it is not a working Python 3 interpreter"
        raise InterpreterError(f"{path} cannot run project tests: {detail}") from None
    major, minor = (int(x) for x in str(facts["version"]).split(".")[:2])
    if (major, minor) < (3, 9):  # the sandbox worker runs with it
        raise InterpreterError(f"{path} is Python {facts['version']}; project tests need "
                               "Python 3.9 or newer")
    # What it says it runs as: a launcher script (a pyenv shim) resolved to the real interpreter.
    executable = str(facts.get("executable") or path)
    return Interpreter(executable if os.path.isfile(executable) else path, str(facts["version"]),
                       tuple(str(p) for p in facts["prefixes"]),
                       tuple(str(p) for p in facts["path"]), facts.get("pytest"))
