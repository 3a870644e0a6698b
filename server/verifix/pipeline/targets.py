"""From what the user names (FILE::QUALNAME) to a Task, and from a Result back to the file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from verifix import code as pycode
from verifix.pipeline.result import Result
from verifix.pipeline.task import Task, TaskError, compose, from_source

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


def generate_task(target: str, root: Path | None = None) -> tuple[Task, SourceFile]:
    path, qualname = split_target(target)
    src = SourceFile.read(path)
    root = root or project_root_of(path)
    fn = pycode.find_function(src.text, qualname)
    if fn is None:
        if _names_something_else(src.text, qualname):
            raise TaskError(f"{qualname!r} in {path} is not a function")
        raise TaskError(f"no function named {qualname!r} in {path}")
    return from_source(src.text, qualname, file=str(path), project_root=root), src


def _names_something_else(source: str, qualname: str) -> bool:
    last = qualname.rsplit(".", 1)[-1]
    return any(line.lstrip().startswith((f"class {last}", f"{last} =", f"{last}:"))
               for line in source.splitlines())


class ApplyError(RuntimeError):
    pass


def apply_result(result: Result, task: Task, src: SourceFile) -> None:
    """Write the result into the file: only the function's text changes; refuse stale files."""
    if not result.code:
        raise ApplyError("nothing to apply")
    current = SourceFile.read(src.path)
    if current.digest != src.digest:
        raise ApplyError(f"{src.path} changed since it was read; not applied")
    text = compose(current.text, task.fn, result.code, result.imports, result.helpers)
    tmp = src.path.with_name(f".{src.path.name}.verifix.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(src.path)
