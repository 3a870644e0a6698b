"""A benchmark run's per-task records: which tasks, one JSON line per task and mode, resumable."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verifix.bench.progress import ProgressBar

# One task of one mode: its record, and every candidate it wrote (analysis only).
RunOne = Callable[[str], tuple[dict[str, Any], dict[str, Any]]]


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut by an interruption: that task runs again
    return out


def named_tasks(ids: list[str], spec: str, prefix: str) -> list[str]:
    """The tasks of `ids` a comma-separated list names ("0,4,Python/7": a bare number gets
    `prefix`), in `ids` order; ValueError for a name that is not a task."""
    wanted = {p.strip() if "/" in p else f"{prefix}/{p.strip()}" for p in spec.split(",")
              if p.strip()}
    unknown = wanted - set(ids)
    if unknown:
        raise ValueError(f"unknown task ids: {', '.join(sorted(unknown))}")
    return [t for t in ids if t in wanted]


def run_mode(label: str, out: Path, mode: str, task_ids: list[str], resume: bool,
             run_one: RunOne) -> list[dict[str, Any]]:
    """Run `mode` on every task not yet recorded in `out`/<mode>.jsonl (all of them without
    `resume`), appending each record and its candidates as it finishes; the mode's records."""
    path = out / f"{mode}.jsonl"
    side = out / "candidates" / f"{mode}.jsonl"
    side.parent.mkdir(parents=True, exist_ok=True)
    kept = read_records(path) if resume else []
    done = {r["task_id"]: r for r in kept}
    # Both files are rewritten without a line an interruption cut, so the next record starts
    # a line of its own.
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    side.write_text("".join(json.dumps(c) + "\n" for c in (read_records(side) if resume else [])
                            if c.get("task_id") in done))
    records = [done[t] for t in task_ids if t in done]
    bar = ProgressBar(label, len(task_ids), initial=records)
    with path.open("a") as f, side.open("a") as g:
        for task_id in task_ids:
            if task_id in done:
                continue
            record, candidates = run_one(task_id)
            g.write(json.dumps(candidates) + "\n")
            g.flush()
            f.write(json.dumps(record) + "\n")
            f.flush()
            records.append(record)
            bar.update(record)
    bar.close()
    return records


def dates(today: str, *dirs: Path) -> str:
    """A results directory filled over several days keeps the day it was started (read from
    the first of `dirs` with a summary.json)."""
    for d in dirs:
        try:
            first = json.loads((d / "summary.json").read_text())["meta"]["date"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        first = first.split(" to ")[0]
        return today if first == today else f"{first} to {today}"
    return today


def model_time(by_kind: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Result.model_time as a record keeps it (where a task's model time went, by kind)."""
    return {kind: {k: round(v, 3) for k, v in d.items()} for kind, d in by_kind.items()}
