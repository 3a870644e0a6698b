"""`verifix bench repair`: HumanEvalFix (Python) through the product's own repair path.

Each task becomes a small project in a temporary directory: `pyproject.toml`, a module holding
the buggy function (the task's prompt, i.e. imports, signature and docstring, plus its buggy
body) and `tests/test_<entry_point>.py`, whose one test is a `check` function of the task. The
repair then runs as `verifix repair TEST_FILE::TEST_NAME` runs it (`pipeline.jobs.prepare` and
`execute`), and the hidden full `test` scores the ONE result afterwards, in the sandbox.

Two protocols:

- `tests`: the project's test is the task's full `test` (HumanEvalFixTests). The score is the
  same test, so the model sees what scores it, as in the published setting.
- `heldout`: the project's test is the task's `example_test`; the full `test` is never written
  into the project and never reaches the model. Tasks whose buggy code passes `example_test`
  have nothing to repair and are skipped (and counted as such).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from verifix.bench.humaneval import WAVE_SWITCHES
from verifix.bench.records import dates, model_time, named_tasks, read_records, run_mode
from verifix.bench.report import write_reports
from verifix.config import PipelineSettings, Settings
from verifix.engine.base import Engine
from verifix.sandbox.base import Runner

PROTOCOLS = ["tests", "heldout"]
# The repository root (server/verifix/bench/repair.py -> ../../..): the data lives beside it.
# Shipped with the package (MIT; provenance in data/README.md).
DEFAULT_DATA = Path(__file__).with_name("data") / "humanevalpack-python.jsonl.gz"


def _both_ways(switch: str, key: str) -> dict[str, dict[str, Any]]:
    return {switch: {key: True}, f"no-{switch}": {key: False}}


# Like `bench humaneval`: a pipeline mode is one switch or several joined by "+", each setting
# these pipeline settings in turn, over the configured ones.
SWITCH_SETTINGS: dict[str, dict[str, Any]] = {
    "pipeline": {},
    **_both_ways("rewrites", "repairRewrites"),
    **_both_ways("fixes", "repairFixes"),
    "repair-rounds": {"repairRounds": PipelineSettings().repairRounds},
    "no-repair-rounds": {"repairRounds": 0},
    **WAVE_SWITCHES,
}
# The baseline: exactly one temperature-0 repair of the failing code (RepairTest.rounds with
# one candidate, no later rounds and no rewrite yields one fix at k = 0).
BASELINE_SETTINGS: dict[str, dict[str, Any]] = {
    "greedy-fix": {"candidates": 1, "repairRounds": 0, "repairRewrites": False},
}
BASELINES = list(BASELINE_SETTINGS)
SWITCHES = list(SWITCH_SETTINGS)
MODES = BASELINES + SWITCHES  # the report's order; combined modes follow

# What kind of candidate an answer is: a fix of the buggy code (first round), a function
# written afresh from the stub and the tests, or a fix in a later repair round.
KINDS = ["fix", "rewrite", "round-fix"]


def check_mode(mode: str) -> None:
    if mode in BASELINES:
        return
    bad = [p for p in mode.split("+") if p not in SWITCHES]
    if bad or not mode:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)} "
                         "(pipeline switches can be joined with +)")


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")


def settings_for(mode: str, settings: Settings) -> PipelineSettings:
    changes: dict[str, Any] = dict(BASELINE_SETTINGS.get(mode, {}))
    for switch in [] if mode in BASELINES else mode.split("+"):
        changes.update(SWITCH_SETTINGS[switch])
    # As in `bench humaneval`: no wall-clock budget that would make answers depend on the load.
    changes["timeBudget"] = max(settings.pipeline.timeBudget, 3600.0)
    return attrs.evolve(settings.pipeline, **changes)


@dataclass
class TaskRecord:
    task_id: str
    protocol: str
    mode: str
    status: str
    passed: bool  # the result passes the task's full hidden `test`
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    phase: str
    candidates: int
    trusted_checks: int
    ceiling: bool | None  # some candidate passes the full `test` (analysis only)
    origin: str | None  # the chosen candidate's kind: fix | rewrite | round-fix
    right: list[str] = field(default_factory=list)  # kinds of the candidates that pass `test`
    bug_type: str = ""
    message: str = ""
    model_time: dict[str, dict[str, float]] | None = None  # Result.model_time


# -- data -------------------------------------------------------------------------------------
def data_path(path: str | None) -> Path:
    return Path(path) if path else DEFAULT_DATA


def load_problems(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        raise ValueError(f"no HumanEvalFix data at {path}: pass --data PATH "
                         "(humanevalpack-python.jsonl or .jsonl.gz)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        rows = [json.loads(line) for line in f if line.strip()]
    return {r["task_id"]: r for r in rows}


def _number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


def select_tasks(problems: dict[str, dict[str, Any]], spec: str | None, limit: int | None
                 ) -> list[str]:
    """`spec`: "subset" (40 tasks: every 4th, /0, /4, …, /156), "all", a number N (the first
    N tasks), or ids "0,4,Python/7" (one id alone as "Python/7" or "7,")."""
    ids = sorted(problems, key=_number)
    spec = (spec or "all").strip()
    if spec == "subset":
        ids = [t for t in ids if _number(t) % 4 == 0][:40]
    elif spec.isdigit():
        ids = ids[:int(spec)]
    elif spec != "all":
        ids = named_tasks(ids, spec, ids[0].rsplit("/", 1)[0] if ids else "Python")
    return ids[:limit] if limit else ids


# -- one task as a project --------------------------------------------------------------------
def module_name(problem: dict[str, Any]) -> str:
    return str(problem["entry_point"])


def buggy_module(problem: dict[str, Any]) -> str:
    return problem["prompt"].lstrip("\n") + problem["buggy_solution"].rstrip() + "\n"


def check_body(check_src: str) -> str:
    """A task's `check` function without the module-level `check(entry)` call that follows it.
    Text before it is dropped: /119's example_test starts with its canonical solution, twice."""
    start = re.search(r"^def check\(", check_src, flags=re.M)
    if start is None:
        return ""
    lines = [x for x in check_src[start.start():].splitlines()
             if not re.match(r"check\(.*\)\s*$", x)]
    return "\n".join(lines).strip("\n") + "\n"


def test_file_text(problem: dict[str, Any], check_src: str) -> str:
    """The project's test file: the check's assertions as `test_<entry>()`.

    The check function's parameter is named like the function (`def check(add):`), so its body,
    as the body of a pytest test, calls the imported function. A test that only passed the
    function to a `check` helper would show the model no assertion, and `prepare` could not
    tell which function it exercises (it follows calls)."""
    entry, mod = problem["entry_point"], module_name(problem)
    body = check_body(check_src)
    body = re.sub(rf"^def check\({re.escape(entry)}\):", f"def test_{entry}():", body,
                  count=1, flags=re.M)
    if f"def test_{entry}():" not in body:
        raise ValueError(f"{problem['task_id']}: unexpected check function")
    return (f"from {mod} import *  # noqa: F403  (its helpers too, e.g. poly)\n"
            f"from {mod} import {entry}\n\n\n{body}")


def write_project(root: Path, problem: dict[str, Any], check_src: str) -> Path:
    """The task as a project in `root`; returns the test file."""
    mod = module_name(problem)
    name = re.sub(r"[^a-z0-9]+", "-", problem["task_id"].lower())
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0"\n')
    (root / f"{mod}.py").write_text(buggy_module(problem))
    tests = root / "tests"
    tests.mkdir()
    test_file = tests / f"test_{problem['entry_point']}.py"
    test_file.write_text(test_file_text(problem, check_src))
    return test_file


def visible_check(protocol: str, problem: dict[str, Any]) -> str:
    return problem["test"] if protocol == "tests" else problem["example_test"]


def passes(sandbox: Runner, program: str, check_src: str, entry: str) -> bool:
    """`program` (a whole module) passes a task's `check` function, run in the sandbox."""
    code = program + "\n\n" + check_body(check_src)
    report = sandbox.run_checks(code, [f"check({entry})"])
    return report.results[0].status == "passed"


def hidden_pass(sandbox: Runner, program: str, problem: dict[str, Any]) -> bool:
    """Score one module with the task's full hidden `test`."""
    return bool(program) and passes(sandbox, program, problem["test"], problem["entry_point"])


def skip_reason(protocol: str, problem: dict[str, Any], sandbox: Runner) -> str | None:
    """Why the task has nothing to repair under `protocol` (None: it has)."""
    if protocol != "heldout":
        return None
    if not problem["example_test"].strip():
        return "no example_test"
    if passes(sandbox, buggy_module(problem), problem["example_test"], problem["entry_point"]):
        return "the buggy code passes example_test"
    return None


# -- running ----------------------------------------------------------------------------------
_KIND_OF = {"repair": "fix", "rewrite": "rewrite", "round-repair": "round-fix"}


def run_one(protocol: str, mode: str, task_id: str, problem: dict[str, Any], engine: Engine,
            sandbox: Runner, settings: Settings) -> tuple[TaskRecord, dict[str, Any]]:
    """The task's record, and its candidates (programs, kinds, hidden-test outcomes)."""
    from verifix.pipeline.jobs import error_result, execute, prepare
    from verifix.pipeline.task import TaskError

    entry = problem["entry_point"]
    pipeline = settings_for(mode, settings)
    run_settings = attrs.evolve(settings, pipeline=pipeline)
    trusted = 0
    with tempfile.TemporaryDirectory(prefix="verifix-fix-") as tmp:
        project = Path(tmp)
        test_file = write_project(project, problem, visible_check(protocol, problem))
        target = f"{test_file}::test_{entry}"
        try:
            # The tasks need only pytest and the standard library: verifix's own interpreter
            # runs them (unless the python setting names another).
            task, _src = prepare("repair", target, sandbox, root=project,
                                 python=settings.python or sys.executable)
        except TaskError as exc:
            result = error_result(target, str(exc))
        else:
            trusted = task.trusted_total
            result = execute("repair", task, run_settings, engine, sandbox)
    programs = result.candidate_programs
    outcome: dict[str, bool] = {}
    for p in programs:
        if p not in outcome:
            outcome[p] = hidden_pass(sandbox, p, problem)
    passed = hidden_pass(sandbox, result.program, problem) if result.program else False
    chosen = programs.index(result.program) if result.program in programs else None
    kinds = [_KIND_OF.get(o, o) for o in result.candidate_origins]
    right = sorted({k for p, k in zip(programs, kinds, strict=True) if outcome[p]},
                   key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS))
    record = TaskRecord(
        task_id=task_id, protocol=protocol, mode=mode, status=result.status, passed=passed,
        prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
        seconds=round(result.seconds, 3), phase=result.phase,
        candidates=max(result.evidence.candidates, len(programs)), trusted_checks=trusted,
        ceiling=passed or any(outcome.values()),
        origin=kinds[chosen] if chosen is not None else None, right=right,
        bug_type=problem.get("bug_type", ""), message=result.message[:300],
        model_time=model_time(result.model_time),
    )
    return record, {"task_id": task_id, "chosen": chosen, "programs": programs,
                    "kinds": kinds, "passed": [outcome[p] for p in programs]}


def read_skipped(path: Path) -> dict[str, str]:
    return {r["task_id"]: r["reason"] for r in read_records(path)}


def run_protocol(protocol: str, modes: Iterable[str], task_ids: list[str],
                 problems: dict[str, dict[str, Any]], settings: Settings, out: Path,
                 resume: bool, engine: Engine, sandbox: Runner
                 ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Every mode's records in `out` (one protocol), and the tasks skipped with their reason."""

    out.mkdir(parents=True, exist_ok=True)
    skipped_path = out / "skipped.jsonl"
    known = read_skipped(skipped_path) if resume else {}
    skipped: dict[str, str] = {}
    todo: list[str] = []
    for task_id in task_ids:
        reason = known.get(task_id) or skip_reason(protocol, problems[task_id], sandbox)
        if reason:
            skipped[task_id] = reason
        else:
            todo.append(task_id)
    known.update(skipped)
    skipped_path.write_text("".join(json.dumps({"task_id": t, "reason": r}) + "\n"
                                    for t, r in sorted(known.items(),
                                                       key=lambda kv: _number(kv[0]))))

    def one(mode: str, task_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        record, candidates = run_one(protocol, mode, task_id, problems[task_id], engine,
                                     sandbox, settings)
        return asdict(record), candidates

    results = {mode: run_mode(f"{protocol} {mode}", out, mode, todo, resume, partial(one, mode))
               for mode in modes}
    return results, skipped


# -- reports ----------------------------------------------------------------------------------
TITLES = {"tests": "HumanEvalFix tests", "heldout": "HumanEvalFix heldout"}
PROTOCOL_NOTES = {
    "tests": "Protocol `tests`: the project's test is the task's full `test`, which also scores.",
    "heldout": "Protocol `heldout`: the project's test is `example_test`; the full `test` is "
               "hidden from the project and the model and only scores.",
}


def kinds_table(out: Path, modes: list[str]) -> str:
    """Which kind of candidate each mode's answers are, and which kinds were right."""
    combined = sorted(p.stem for p in out.glob("*+*.jsonl"))
    lines = ["| mode | passed: fix / rewrite / round-fix | some candidate right: fix / "
             "rewrite / round-fix | answers: fix / rewrite / round-fix / none |",
             "|---|---|---|---|"]
    for mode in modes + combined:
        records = read_records(out / f"{mode}.jsonl")
        if not records:
            continue

        def count(pred: Any, records: list[dict[str, Any]] = records) -> str:
            return " / ".join(str(sum(1 for r in records if pred(r, k))) for k in KINDS)

        won = count(lambda r, k: r["passed"] and r.get("origin") == k)
        right = count(lambda r, k: k in (r.get("right") or []))
        answers = count(lambda r, k: r.get("origin") == k)
        none = sum(1 for r in records if not r.get("origin"))
        lines.append(f"| {mode} | {won} | {right} | {answers} / {none} |")
    return "\n".join(lines)


def bug_type_table(out: Path, modes: list[str]) -> str:
    present = [m for m in modes + sorted(p.stem for p in out.glob("*+*.jsonl"))
               if read_records(out / f"{m}.jsonl")]
    records = {m: read_records(out / f"{m}.jsonl") for m in present}
    types = sorted({r.get("bug_type", "") for rs in records.values() for r in rs})
    lines = ["| bug type | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for t in types:
        cells = []
        for m in present:
            rs = [r for r in records[m] if r.get("bug_type", "") == t]
            cells.append(f"{sum(1 for r in rs if r['passed'])}/{len(rs)}")
        lines.append(f"| {t or '?'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_protocol(out: Path, protocol: str, meta: dict[str, Any],
                    task_ids: list[str] | None = None) -> str:
    """The protocol's summary (`out`/summary.md and .json, plots); `task_ids`: the selection,
    whose skipped tasks are left out of the task count."""
    skipped = read_skipped(out / "skipped.jsonl")
    if task_ids is not None:
        skipped = {t: r for t, r in skipped.items() if t in task_ids}
        meta = {**meta, "tasks": len(task_ids) - len(skipped)}
    meta = {**meta, "protocol": protocol, "skipped": len(skipped)}
    summary = write_reports(out, meta, MODES, title=TITLES[protocol], baseline="greedy-fix")
    parts = [summary["markdown"], PROTOCOL_NOTES[protocol]]
    if skipped:
        parts.append(f"Skipped, nothing to repair ({len(skipped)}): "
                     + ", ".join(f"/{_number(t)} ({r})" for t, r in skipped.items()) + ".")
    parts += ["Which kind of candidate the answers are (fix: of the buggy code, first round; "
              "rewrite: written afresh from the stub and the tests; round-fix: a later repair "
              "round):", kinds_table(out, MODES), "Passed per bug type:",
              bug_type_table(out, MODES)]
    text = "\n\n".join(parts)
    (out / "summary.md").write_text(text + "\n")
    return text


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None, settings: Settings, args: Any) -> int:
    from verifix.runtime import open_engine, open_sandbox

    path = data_path(getattr(args, "data", None))
    problems = load_problems(path)
    task_ids = select_tasks(problems, args.tasks, args.limit)
    protocols = [p.strip() for p in (args.protocol or "tests,heldout").split(",") if p.strip()]
    for p in protocols:
        check_protocol(p)
    modes = ([m.strip() for m in args.mode.split(",")] if args.mode
             else ["greedy-fix", "pipeline"])
    for m in modes:
        check_mode(m)
    out = Path(args.out)
    spec = args.tasks or "all"
    spec = f"first {spec}" if spec.isdigit() else spec
    if args.limit:
        spec += f", first {args.limit}"
    meta = {"model": settings.model, "tasks": len(task_ids), "task_spec": spec,
            "seed": settings.seed, "candidates": settings.pipeline.candidates,
            "data": f"{path.name} sha256 {file_digest(path)[:16]}",
            "date": dates(time.strftime("%Y-%m-%d"), out, *(out / p for p in PROTOCOLS))}
    engine = open_engine(settings)
    try:
        with open_sandbox(settings) as sandbox:
            print(f"verifix bench repair: {len(task_ids)} tasks, protocols "
                  f"{', '.join(protocols)}, modes {', '.join(modes)}, model {settings.model}, "
                  f"sandbox {sandbox.isolation}", file=sys.stderr)
            for protocol in protocols:
                run_protocol(protocol, modes, task_ids, problems, settings, out / protocol,
                             args.resume, engine, sandbox)
    finally:
        engine.close()
    texts = [report_protocol(out / p, p, meta, task_ids) for p in PROTOCOLS
             if (out / p).is_dir()]
    text = "\n\n".join(texts)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    return 0
