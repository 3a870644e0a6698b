"""Language-server latency: initialize -> first response, and textDocument/codeAction and
textDocument/hover p50/p99 while a model job runs (`verifix bench lsp`).

By default the job's model is the scripted test engine, slowed to a steady token stream, so
the figure measures the server (event loop, tree-sitter, JSON-RPC), not the model; `--real`
runs the configured model instead (the job then also competes for the CPU).

`--case onsave`: for the first N tasks of the HumanEvalFix subset (protocol tests: the project's
test is the task's full test), the task's project with one server of its own, on the real model
(the default one, or --model): the time from saving the buggy module to the failing test's
diagnostic, and to the background repair's outcome, with whether "Apply verified fix" is then
offered on the diagnostic. One server per task: a server has one workspace root, and on save it
re-runs every test it shows failing, so tasks sharing a server would run each other's tests.
Model loading is timed apart and left out of the save figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from verifix.lsp.latency_client import onsave_task, run
from verifix.lsp.protocol import TEST_ENGINE_ENV, TITLE_APPLY_FIX


def markdown(r: dict[str, Any]) -> str:
    return "\n".join([
        f"verifix language server, {r['document_lines']}-line document, {r['requests']} requests "
        f"each while a job runs ({r['engine']}; running throughout: "
        f"{r['job_running_throughout']})",
        "",
        "| measure | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|",
        f"| textDocument/codeAction | {r['codeAction_ms']['p50']} | {r['codeAction_ms']['p99']} "
        f"| {r['codeAction_ms']['max']} |",
        f"| textDocument/hover | {r['hover_ms']['p50']} | {r['hover_ms']['p99']} "
        f"| {r['hover_ms']['max']} |",
        "",
        f"initialize -> response, server already started: {r['initialize_ms']} ms; "
        f"process spawn -> initialize response (cold, median of 3): "
        f"{r['spawn_to_initialize_ms']} ms",
    ])


# -- the on-save case ---------------------------------------------------------------------------
async def run_onsave(problems: list[dict[str, Any]], model: str | None = None,
                     log: bool = True) -> dict[str, Any]:
    """Each task's project in a temporary directory, one server each (see the module's doc)."""
    from verifix.bench import repair as br
    from verifix.config import Settings, env_key

    scripted = bool(os.environ.get(TEST_ENGINE_ENV))
    init: dict[str, Any] = {"python": sys.executable}  # the tasks need pytest and stdlib only
    if model:
        init["model"] = model
    rows: list[dict[str, Any]] = []
    for problem in problems:
        with tempfile.TemporaryDirectory(prefix="verifix-bench-onsave-") as tmp:
            root = Path(tmp) / "proj"
            root.mkdir()
            test_file = br.write_project(root, problem, br.visible_check("tests", problem))
            module = root / f"{br.module_name(problem)}.py"
            row = await onsave_task(root, module, test_file, init, dict(os.environ))
        rows.append({"task_id": problem["task_id"], **row})
        if log:
            r = rows[-1]
            print(f"{r['task_id']}: diagnostic {_s(r['diagnostic_s'])} s, repair "
                  f"{r['status'] or '-'} {_s(r['repair_s'])} s, fix offered "
                  f"{'yes' if r['fix_offered'] else 'no'}{'; ' + r['error'] if r['error'] else ''}",
                  file=sys.stderr)
    offered = [r["fix_offered_s"] for r in rows if r["fix_offered"]]
    return {
        "case": "onsave",
        "engine": "scripted (test hook)" if scripted else "real",
        "model": model or os.environ.get(env_key("model")) or Settings().model,
        "tasks": len(rows),
        "servers": "one server per task",
        "per_task": rows,
        "model_load_s": _stats([r["model_load_s"] for r in rows if r["model_load_s"] is not None]),
        "diagnostic_s": _stats([r["diagnostic_s"] for r in rows if r["diagnostic_s"] is not None]),
        "repair_s": _stats([r["repair_s"] for r in rows if r["repair_s"] is not None]),
        "fix_offered_s": _stats(offered),
        "offered": len(offered),
    }


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "mean": None}
    return {"n": len(values), "median": round(statistics.median(values), 2),
            "mean": round(statistics.mean(values), 2)}


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cells(r: dict[str, Any]) -> str:
    if r["fix_offered"]:
        offered = _s(r["fix_offered_s"])
    else:
        offered = f"not offered ({r['status'] or r['error'] or 'no outcome'})"
    return (f"| {r['task_id']} | {_s(r['diagnostic_s'])} | {_s(r['repair_s'])} "
            f"| {r['status'] or '-'} | {offered} |")


def onsave_markdown(r: dict[str, Any]) -> str:
    n = r["tasks"]
    errors = [f"{x['task_id']}: {x['error']}" for x in r["per_task"] if x["error"]]

    def stat(name: str, what: str, count: str) -> str:
        s = r[name]
        return f"| {what} | {_s(s['median'])} | {_s(s['mean'])} | {count} |"

    return "\n".join([
        f"verifix language server, on save: {n} HumanEvalFix tasks (the subset's first {n}, "
        "protocol tests), "
        + ("the scripted test engine" if r["engine"] != "real" else f"model {r['model']}")
        + f", {r['servers']}; seconds from didSave",
        "",
        "| task | test diagnostic s | repair outcome s | repair status | fix offered s |",
        "|---|---|---|---|---|",
        *[_cells(x) for x in r["per_task"]],
        "",
        "| measure | median s | mean s | tasks |",
        "|---|---|---|---|",
        stat("diagnostic_s", "didSave -> failing test's diagnostic",
             f"{r['diagnostic_s']['n']}/{n}"),
        stat("repair_s", "didSave -> background repair's outcome (any status)",
             f"{r['repair_s']['n']}/{n}"),
        stat("fix_offered_s", f"didSave -> \"{TITLE_APPLY_FIX}\" offered",
             f"{r['offered']}/{n}"),
        "",
        f"server start + model load, per server, left out above: median "
        f"{_s(r['model_load_s']['median'])} s, mean {_s(r['model_load_s']['mean'])} s",
        *([""] + errors if errors else []),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verifix bench lsp", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--functions", type=int, default=60, help="functions in the document")
    parser.add_argument("--real", action="store_true", help="use the configured model")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--case", choices=["latency", "onsave"], default="latency",
                        help="latency (default): codeAction/hover during a job; onsave: "
                        "didSave -> diagnostic -> verified fix on HumanEvalFix tasks")
    parser.add_argument("--tasks", type=int, default=10,
                        help="onsave: the first N tasks of the HumanEvalFix subset")
    parser.add_argument("--model", help="onsave: the model (default: the configured default)")
    parser.add_argument("--data", help="onsave: humanevalpack-python.jsonl[.gz]")
    args = parser.parse_args(argv)
    if args.case == "onsave":
        from verifix.bench import repair as br

        if args.tasks < 1:
            parser.error("--tasks must be at least 1")
        try:
            problems = br.load_problems(br.data_path(args.data))
        except ValueError as exc:
            parser.error(str(exc))
        ids = br.select_tasks(problems, "subset", args.tasks)
        found = asyncio.run(run_onsave([problems[i] for i in ids], args.model))
        print(json.dumps(found, indent=2) if args.json else onsave_markdown(found))
        return 0
    result = asyncio.run(run(args.requests, args.functions, args.real))
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
