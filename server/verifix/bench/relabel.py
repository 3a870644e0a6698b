"""Relabel a finished HumanEval run under the `majority-of-all` rule, without rerunning it.

Analysis only. The rule changes nothing but the label: the pool and the chosen behaviour
cluster stay the same, so a `verified` answer keeps its label exactly when its agreeing
implementations are a majority of every distinct implementation written. The agreeing count
comes from the record's message, the distinct implementations from the stored programs
(`<out>/candidates/<mode>.jsonl`), keyed like `Candidate.key`: the target function's AST.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from verifix.bench.humaneval import read_records

AGREEING = re.compile(r"(\d+) of \d+ independent implementations agree")


def function_key(program: str, name: str) -> str:
    """The target function's AST (formatting and comments ignored), as `Candidate.key`."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return program
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return ast.dump(node)
    return ast.dump(tree)


def relabel(records: list[dict[str, Any]], candidates: dict[str, dict[str, Any]],
            entry_points: dict[str, str]) -> dict[str, Any]:
    kept: list[dict[str, Any]] = []
    demoted: list[dict[str, Any]] = []
    for rec in records:
        if rec["status"] != "verified":
            continue
        match = AGREEING.search(rec["message"])
        side = candidates.get(rec["task_id"])
        if match is None or side is None:
            raise ValueError(f"{rec['task_id']}: no agreement count or no stored programs")
        name = entry_points.get(rec["task_id"])
        if name is None:
            raise ValueError(f"{rec['task_id']}: not a HumanEval task")
        written = len({function_key(p, name) for p in side["programs"] if p})
        row = {"task_id": rec["task_id"], "passed": rec["passed"],
               "agreeing": int(match.group(1)), "written": written}
        (kept if row["agreeing"] * 2 > written else demoted).append(row)
    return {
        "verified": len(kept) + len(demoted),
        "verified_right": sum(r["passed"] for r in kept + demoted),
        "kept": len(kept), "kept_right": sum(r["passed"] for r in kept),
        "demoted": demoted,
    }


def main(out: Path, mode: str, entry_points: dict[str, str]) -> str:
    records_path = out / f"{mode}.jsonl"
    side_path = out / "candidates" / f"{mode}.jsonl"
    for path in (records_path, side_path):
        if not path.exists():
            raise ValueError(f"{path}: not found (run the benchmark with this --out and --mode)")
    # As the bench reads them: a line cut by an interruption is a task not finished.
    records = read_records(records_path)
    side = {row["task_id"]: row for row in read_records(side_path)}
    r = relabel(records, side, entry_points)
    lines = [f"{mode} ({len(records)} tasks): verified {r['verified']}, "
             f"{r['verified_right']} pass the hidden tests",
             f"majority-of-all: verified {r['kept']}, {r['kept_right']} pass the hidden tests; "
             f"{len(r['demoted'])} demoted to plausible:"]
    lines += [f"  {d['task_id']} {'passes' if d['passed'] else 'FAILS'} the hidden tests: "
              f"{d['agreeing']} agree, {d['written']} distinct implementations written"
              for d in r["demoted"]]
    return "\n".join(lines)

