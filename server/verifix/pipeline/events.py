"""Typed events every stage emits (the language server turns them into editor progress)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Phase = Literal[
    "task", "probe", "plans", "candidates", "inputs", "checks", "select", "repair", "done"
]

# Rough share of a job's progress at the start of each phase (for a percentage bar).
PHASE_PERCENT: dict[str, int] = {
    "task": 0, "probe": 5, "inputs": 12, "checks": 18, "plans": 22, "candidates": 30,
    "repair": 75, "select": 90, "done": 100,
}  # fmt: skip


@dataclass(frozen=True)
class Interim:
    """An answer offered before the job ends: never verified (agreement is still running) and
    never an edit; the job's final result upgrades or replaces it."""
    status: str  # plausible
    code: str  # the function, as it would be written
    message: str
    program: str = ""  # the whole program that was checked (benchmarks score it)


@dataclass(frozen=True)
class Event:
    phase: Phase
    message: str
    candidates: int = 0  # candidates produced so far
    checks_passed: int = 0  # best trusted-check score so far
    checks_total: int = 0
    percent: int = 0
    data: dict[str, Any] | None = None
    interim: Interim | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


EventSink = Callable[[Event], None]


def ignore(_event: Event) -> None:
    pass
