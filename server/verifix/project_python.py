"""Which Python runs a project's tests: the project's own, as its developer runs them.

First that exists: the `python` setting (relative paths from the project root; an editor sends
the interpreter it has selected) -> $VIRTUAL_ENV (unless it is verifix's own) -> `.venv/` or
`venv/` in the project root -> `python3` on PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from verifix.sandbox.interpreter import Interpreter, InterpreterError, probe

VENV_DIRS = (".venv", "venv")


@dataclass(frozen=True)
class Choice:
    path: str
    why: str  # where it came from, for `verifix doctor` and messages


def _venv_python(venv: Path) -> Path | None:
    for rel in ("bin/python", "bin/python3", "Scripts/python.exe"):
        if (venv / rel).exists():
            return venv / rel
    return None


def choose(setting: str, root: Path, environ: Mapping[str, str] | None = None) -> Choice:
    """The interpreter to use (not yet probed); InterpreterError when none can be found."""
    environ = os.environ if environ is None else environ
    if setting:
        path = Path(setting).expanduser()
        if not path.is_absolute():
            path = root / path
        if not path.exists():
            raise InterpreterError(f"the python setting names {path}, which does not exist")
        return Choice(str(path), "the python setting")
    active = environ.get("VIRTUAL_ENV", "")
    if active and os.path.realpath(active) != os.path.realpath(sys.prefix):
        found = _venv_python(Path(active))
        if found is not None:
            return Choice(str(found), "$VIRTUAL_ENV")
    for name in VENV_DIRS:
        found = _venv_python(root / name)
        if found is not None:
            return Choice(str(found), f"{name}/ in the project")
    on_path = shutil.which("python3", path=environ.get("PATH", os.defpath))
    if on_path:
        return Choice(on_path, "python3 on PATH")
    raise InterpreterError("no Python found for the project's tests: set python (e.g. "
                           '[tool.verifix] python = ".venv/bin/python")')


def project_interpreter(setting: str, root: Path,
                        environ: Mapping[str, str] | None = None) -> Interpreter:
    """The project's interpreter, able to run pytest; InterpreterError (one line) if not."""
    chosen = choose(setting, root, environ)
    interpreter = probe(chosen.path)
    interpreter.require_pytest()
    return interpreter
