"""A throwaway copy of the user's project, with replacements applied, and its pytest outcomes.

The copy is read here on the host and shipped to the worker as one blob: the user's directory is
never bound into the sandbox and never written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from verifix.sandbox.reports import TestResult, TestStatus
from verifix.sandbox.worker import node_matches

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", ".idea", ".vscode",
})


class ProjectTooLarge(Exception):
    pass


@dataclass
class ProjectCopy:
    files: list[list[Any]] = field(default_factory=list)  # [relative path, size, executable]
    chunks: list[bytes] = field(default_factory=list)
    total: int = 0
    skipped_large: list[str] = field(default_factory=list)

    def add(self, rel: str, data: bytes, executable: bool, max_total: int) -> None:
        self.total += len(data)
        if self.total > max_total:
            raise ProjectTooLarge(
                f"the project is larger than {max_total >> 20} MiB (after skipping .git, venvs, "
                "caches and files over the per-file limit)")
        self.files.append([rel, len(data), executable])
        self.chunks.append(data)

    @property
    def blob(self) -> bytes:
        return b"".join(self.chunks)

    def paths(self) -> set[str]:
        return {str(entry[0]) for entry in self.files}


def normalize_relpath(rel: str) -> str:
    """A clean relative POSIX path inside the project, or ValueError."""
    text = rel.replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    path = PurePosixPath(text)
    if not text or path.is_absolute() or any(part in ("..", "") for part in path.parts):
        raise ValueError(f"replacement path must be relative and inside the project: {rel!r}")
    return path.as_posix()


def snapshot(root: Path, replacements: Mapping[str, str], *, max_file_bytes: int,
             max_total_bytes: int) -> ProjectCopy:
    """Read the project (regular files only, no symlinks leaving it) and apply replacements."""
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"project root is not a directory: {root}")
    replaced = {normalize_relpath(k): v for k, v in replacements.items()}
    copy = ProjectCopy()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(
            ".egg-info"))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if rel in replaced:
                continue
            try:
                info = path.stat()
                if path.is_symlink() and not path.resolve().is_relative_to(root):
                    continue  # would copy something from outside the project
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_size > max_file_bytes:
                copy.skipped_large.append(rel)
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            copy.add(rel, data, bool(info.st_mode & stat.S_IXUSR), max_total_bytes)
    for rel, text in sorted(replaced.items()):
        copy.add(rel, text.encode("utf-8"), False, max_total_bytes)
    return copy


def normalize_node_id(node_id: str) -> str:
    text = node_id.strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def node_path(node_id: str) -> str:
    return node_id.split("::", 1)[0].rstrip("/")


def existing_paths(node_ids: Iterable[str], files: set[str]) -> dict[str, bool]:
    """For each file or directory part of the node ids: is it in the copy?"""
    found: dict[str, bool] = {}
    for node_id in node_ids:
        path = node_path(node_id)
        if path not in found:
            found[path] = path in files or any(f.startswith(path + "/") for f in files)
    return found


_SEVERITY: dict[str, int] = {"skipped": 0, "passed": 1, "failed": 2, "timeout": 3, "error": 4,
                             "cancelled": 5}


def aggregate(node_id: str, items: Mapping[str, dict[str, Any]],
              collect_errors: Mapping[str, str]) -> TestResult | None:
    """One result for a requested id from the items it selected (parametrised, class, file)."""
    matched = [item for nodeid, item in items.items() if node_matches(nodeid, node_id)]
    if not matched:
        for where, message in collect_errors.items():
            if node_matches(node_id, where) or node_matches(where, node_path(node_id)):
                return TestResult(node_id, "error", message)
        return None
    worst = max(matched, key=lambda item: _SEVERITY.get(item["status"], 4))
    status: TestStatus = worst["status"]
    if status == "skipped" and any(i["status"] == "passed" for i in matched):
        status = "passed"
    seconds = sum(float(i.get("seconds") or 0.0) for i in matched)
    message = worst.get("message", "") if status not in ("passed",) else ""
    if len(matched) > 1 and status in ("failed", "error", "timeout"):
        bad = [i["nodeid"] for i in matched if i["status"] == status]
        message = f"{len(bad)} of {len(matched)} selected tests {status}: {', '.join(bad[:5])}\n" \
            + message
    return TestResult(node_id, status, message, worst.get("output", ""), round(seconds, 6))
