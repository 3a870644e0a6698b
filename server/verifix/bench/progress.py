"""A live progress line on stderr with the running pass rate."""

from __future__ import annotations

import sys
import time
from typing import Any


class ProgressBar:
    def __init__(self, label: str, total: int, initial: list[dict[str, Any]] | None = None,
                 width: int = 24) -> None:
        self.label, self.total, self.width = label, total, width
        self.done = len(initial or [])
        self.passed = sum(1 for r in initial or [] if r.get("passed"))
        self.tokens = sum(r.get("completion_tokens", 0) for r in initial or [])
        self.start = time.perf_counter()
        self.new = 0
        self.tty = sys.stderr.isatty()
        self._draw()

    def update(self, record: dict[str, Any]) -> None:
        self.done += 1
        self.new += 1
        self.passed += bool(record.get("passed"))
        self.tokens += record.get("completion_tokens", 0)
        self._draw(record)

    def _draw(self, record: dict[str, Any] | None = None) -> None:
        filled = self.width * self.done // max(self.total, 1)
        rate = self.passed / self.done if self.done else 0.0
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.new * (self.total - self.done) if self.new else 0.0
        last = f" {record['task_id']} {record['status']}" if record else ""
        line = (f"{self.label:<20} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.done}/{self.total} pass {self.passed}/{self.done} ({rate:.0%}) "
                f"eta {eta / 60:.0f} min{last}")
        print(("\r" + line + " " * 8) if self.tty else line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)
