"""From what the user names (FILE::QUALNAME) to a Task, and from a Result back to the file.

A repair target is a failing test: its Task is the function the test exercises, with the test
as the oracle and the tests of its file that passed before as regression guards."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from verifix import code as pycode
from verifix.cancel import CancelToken
from verifix.pipeline.result import Result
from verifix.pipeline.task import Related, Task, TaskError, changed_modules, from_source
from verifix.project_python import project_interpreter
from verifix.sandbox.base import Runner
from verifix.sandbox.interpreter import Interpreter, InterpreterError

PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def split_target(target: str) -> tuple[Path, str]:
    path, sep, name = target.partition("::")
    if not sep or not path or not name:
        raise TaskError(f"expected FILE::NAME (e.g. src/mod.py::my_function), got {target!r}")
    return Path(path), name.replace("::", ".")


def project_root_of(path: Path) -> Path:
    path = path.resolve()
    for folder in path.parents:
        if any((folder / m).exists() for m in PROJECT_MARKERS):
            return folder
    return path.parent


@dataclass
class SourceFile:
    path: Path
    text: str
    digest: str

    @classmethod
    def read(cls, path: Path) -> SourceFile:
        if not path.exists():
            raise TaskError(f"no such file: {path}")
        if not path.is_file():
            raise TaskError(f"not a file: {path}")
        try:
            data = path.read_bytes()
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TaskError(f"{path} is not UTF-8 text") from None
        except OSError as exc:
            raise TaskError(f"cannot read {path}: {exc.strerror}") from None
        return cls(path, text, hashlib.sha256(data).hexdigest())


def project_python(setting: str, root: Path) -> Interpreter:
    """The project's own interpreter for its tests; TaskError (one line) when it cannot run them."""
    try:
        return project_interpreter(setting, root)
    except InterpreterError as exc:
        raise TaskError(str(exc)) from None


def generate_task(target: str, root: Path | None = None,
                  python: str = "") -> tuple[Task, SourceFile]:
    path, qualname = split_target(target)
    src = SourceFile.read(path)
    root = root or project_root_of(path)
    fn = pycode.find_function(src.text, qualname)
    if fn is None:
        if _names_something_else(src.text, qualname):
            raise TaskError(f"{qualname!r} in {path} is not a function")
        raise TaskError(f"no function named {qualname!r} in {path}")
    task = from_source(src.text, qualname, file=str(path), project_root=root)
    if task.project_tests:
        task.python = project_python(python, root)
    return task, src


def repair_task(target: str, sandbox: Runner, cancel: CancelToken | None = None,
                root: Path | None = None, python: str = "") -> tuple[Task, SourceFile]:
    """The Task for a failing test; TaskError when the test does not run, already passes, or
    exercises no function of the project."""
    test_path, test_name = split_target(target)
    test_name, bracket, params = test_name.partition("[")  # a parametrised case: test_x[1-2]
    test_src = SourceFile.read(test_path)
    root = root or project_root_of(test_path)
    test_fn = pycode.find_function(test_src.text, test_name)
    if test_fn is None:
        raise TaskError(f"no test named {test_name!r} in {test_path}")
    tests = [f for f in pycode.list_functions(test_src.text) if f.is_test]
    oracle = pycode.node_id(root, test_path, test_fn.qualname) + bracket + params
    node_ids = [pycode.node_id(root, test_path, f.qualname) for f in tests]
    if oracle not in node_ids:
        node_ids.append(oracle)
    interpreter = project_python(python, root)
    started = time.time_ns()  # files read after the baseline must not have changed during it
    baseline = sandbox.run_project_tests(root, {}, node_ids, cancel=cancel, python=interpreter)
    outcome = {r.node_id: r for r in baseline.results}
    target_result = outcome.get(oracle)
    if target_result is None or target_result.status == "error" and not any(
            r.status == "passed" for r in baseline.results):
        msg = (target_result.message if target_result else "") or "pytest could not collect it"
        last = msg.strip().splitlines()[-1].removeprefix("E").strip()  # pytest's "E   " marker
        raise TaskError(f"{test_path} does not run: {last[:200]}")
    if target_result.status == "passed":
        raise TaskError(f"{oracle} already passes; nothing to repair")
    guards = [n for n in node_ids if n != oracle and outcome.get(n) and
              outcome[n].status == "passed"]
    # The function to fix: the deepest project function the failure passed through (outside
    # the tests), else the first name the test calls that a project module defines.
    found = _culprit_from_trace(root, target_result.message)
    for name in [] if found else pycode.called_functions(test_fn, test_src.text):
        resolved = pycode.resolve_import(root, test_path, name)
        if resolved is not None and resolved[0].resolve() != test_path.resolve():
            found = resolved
            break
    if found is None:
        raise TaskError(f"cannot tell which project function {oracle} exercises")
    module_path, qualname = found
    module_src = SourceFile.read(module_path)
    task = from_source(module_src.text, qualname, file=str(module_path), project_root=root,
                       with_tests=False)
    task.project_tests = [oracle, *guards]
    task.python = interpreter
    task.related = _related(root, module_path, task)
    for path in (module_path, *(r.path for r in task.related)):
        if started < path.stat().st_mtime_ns <= time.time_ns():  # a future mtime is no save
            raise TaskError(f"{path} changed while its tests ran; run the repair again")
    task.oracle_test = oracle
    task.oracle_failure = (target_result.message or target_result.status).strip()
    task.test_code = test_fn.text
    task.test_path = test_path
    guard_names = {g.rpartition("::")[2] for g in guards}
    task.guard_code = "\n\n".join(f.text.strip() for f in tests if f.name in guard_names
                                   and f.qualname != test_fn.qualname)
    return task, module_src


MAX_RELATED = 4
MAX_RELATED_CHARS = 3000


def _related(root: Path, module_path: Path, task: Task) -> list[Related]:
    """The project functions the target calls (two calls deep), outside the tests."""
    out: list[Related] = []
    for path, qualname in pycode.project_callees(root, module_path, task.fn, task.source):
        if pycode.is_test_file(path) or len(out) == MAX_RELATED:
            continue
        try:
            src = SourceFile.read(path)
            relpath = path.resolve().relative_to(root.resolve()).as_posix()
        except (TaskError, ValueError):
            continue
        fn = pycode.find_function(src.text, qualname)
        if fn is not None and len(fn.text) <= MAX_RELATED_CHARS:
            out.append(Related(path, relpath, qualname, fn, src.text))
    return out


def _culprit_from_trace(root: Path, failure: str) -> tuple[Path, str] | None:
    for frame in reversed(pycode.traceback_frames(failure)):
        path = (root / frame.path).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file() or \
                pycode.is_test_file(path) or path.name == "conftest.py":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        lines = text.splitlines()
        if not 0 < frame.line <= len(lines):
            continue
        line = lines[frame.line - 1]
        indent = len(line.encode()) - len(line.lstrip().encode())
        fn = pycode.function_at(text, frame.line - 1, indent)
        if fn is not None and not fn.is_test:
            return path, fn.qualname
    return None


def _names_something_else(source: str, qualname: str) -> bool:
    last = qualname.rsplit(".", 1)[-1]
    return any(line.lstrip().startswith((f"class {last}", f"{last} =", f"{last}:"))
               for line in source.splitlines())


class ApplyError(RuntimeError):
    pass


def apply_result(result: Result, task: Task, src: SourceFile) -> list[Path]:
    """Write the result: only the changed functions' text; every file or none. Refuses when
    a file changed since it was read. Returns the files written."""
    if not result.code:
        raise ApplyError("nothing to apply")
    changes = {f"{r.relpath}::{r.qualname}": c["code"] for r in task.related
               for c in result.changes if c["file"] == str(r.path) and c["function"] == r.qualname}
    try:
        modules = changed_modules(task, result.code, result.imports, result.helpers, changes)
    except TaskError as exc:
        raise ApplyError(str(exc)) from None
    expected = {task.module_relpath or "": src.text}
    expected |= {r.relpath: r.source for r in task.related}
    root = task.project_root or src.path.parent
    paths = {rel: (src.path if rel == (task.module_relpath or "") else root / rel)
             for rel in modules}
    for rel, path in list(paths.items()):
        current = SourceFile.read(path)
        if current.text != expected[rel]:
            raise ApplyError(f"{path} changed since it was read; not applied")
        if modules[rel] == current.text:
            del paths[rel]  # e.g. the fix is all in a helper: its caller's file stays as it is
    temps = []
    try:
        for rel, path in paths.items():
            tmp = path.with_name(f".{path.name}.verifix.tmp")
            tmp.write_text(modules[rel], encoding="utf-8")
            temps.append((tmp, path))
    except OSError as exc:
        for tmp, _path in temps:
            tmp.unlink(missing_ok=True)
        raise ApplyError(f"cannot write {exc.filename}: {exc.strerror}; nothing applied") from None
    for tmp, path in temps:
        tmp.replace(path)
    return list(paths.values())
