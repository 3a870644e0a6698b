""""Repair failing test": the failing test is the oracle, the file's other passing tests guard.

The code under test is rewritten, never the test. `verified` means the test now passes and
nothing that passed before fails (all of them run against the candidate, in the sandbox).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from verifix import code as pycode
from verifix.engine.base import CancelToken, Engine, EngineError
from verifix.pipeline import repair as repair_mod
from verifix.pipeline.candidates import Candidate, Generator
from verifix.pipeline.checks import Verifier
from verifix.pipeline.events import PHASE_PERCENT, Event, EventSink, ignore
from verifix.pipeline.result import Evidence, Result
from verifix.pipeline.run import Options
from verifix.pipeline.targets import SourceFile, project_root_of, split_target
from verifix.pipeline.task import Cancelled, Task, TaskError, from_source, stub_text


class _Found(Exception):
    """A fix passes every test: stop writing more."""


def _node_id(root: Path, test_file: Path, fn: pycode.FunctionInfo) -> str:
    rel = test_file.resolve().relative_to(root.resolve()).as_posix()
    return f"{rel}::" + fn.qualname.replace(".", "::")


def build_repair_task(target: str, sandbox: Any, cancel: CancelToken | None = None,
                      root: Path | None = None) -> tuple[Task, SourceFile]:
    test_path, test_name = split_target(target)
    test_src = SourceFile.read(test_path)
    root = root or project_root_of(test_path)
    test_fn = pycode.find_function(test_src.text, test_name)
    if test_fn is None:
        raise TaskError(f"no test named {test_name!r} in {test_path}")
    tests = [f for f in pycode.list_functions(test_src.text) if f.is_test]
    oracle = _node_id(root, test_path, test_fn)
    node_ids = [_node_id(root, test_path, f) for f in tests]
    if oracle not in node_ids:
        node_ids.append(oracle)
    baseline = sandbox.run_project_tests(root, {}, node_ids, cancel=cancel)
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
    # The function under test: a name the test calls that is defined in a project module.
    found = None
    for name in pycode.called_functions(test_fn, test_src.text):
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
    task.oracle_test = oracle
    task.oracle_failure = (target_result.message or target_result.status).strip()
    task.test_code = test_fn.text
    guard_names = {g.rpartition("::")[2] for g in guards}
    task.guard_code = "\n\n".join(f.text.strip() for f in tests if f.name in guard_names
                                   and f.qualname != test_fn.qualname)
    return task, module_src


def repair_test(task: Task, engine: Engine, sandbox: Any, options: Options,
                events: EventSink = ignore, cancel: CancelToken | None = None) -> Result:
    cancel = cancel or CancelToken()
    start = time.perf_counter()
    engine.forget()  # the same test gives the same repair whatever ran before it
    gen = Generator(engine, task, max_tokens=options.max_tokens, seed=options.seed, cancel=cancel)
    verifier = Verifier(task, sandbox, cancel)
    pool: list[Candidate] = []
    original = Candidate(0, "original", stub_text(task.fn, task.source, with_body=True))

    def emit(phase: Any, message: str) -> None:
        best = max((c.trusted_passed for c in pool), default=0)
        events(Event(phase, message, candidates=len(pool), checks_passed=best,
                     checks_total=task.trusted_total, percent=PHASE_PERCENT.get(phase, 0)))

    def values(parent: Candidate) -> dict[str, object]:
        failures = parent.failures[:2] if parent.failures else [task.oracle_failure]
        return {"code": parent.function_code.strip(), "test_code": task.test_code.strip(),
                "test_name": task.oracle_test or "", "module_path": task.module_relpath or "",
                "failures": "\n\n".join(f[:1500] for f in failures)}

    message = ""
    try:
        emit("task", f"{task.oracle_test} fails; {len(task.project_tests) - 1} passing tests "
             f"guard against regressions")
        verifier.check_trusted(original)
        emit("candidates", "writing fixes")
        parents = [original]
        rounds = max(1, options.repair_rounds + 1)
        for r in range(rounds):
            for i, parent in enumerate(parents):
                for j in range(max(1, options.candidates // 2) if r == 0 else 1):
                    if cancel.cancelled:
                        raise Cancelled
                    if time.perf_counter() - start > options.time_budget:
                        raise TimeoutError
                    k = r * 10 + i * 3 + j
                    temperature = 0.0 if k == 0 else options.temperature
                    attempts: list[Callable[[], Candidate | None]] = [partial(
                        gen.repair, "repair_test",
                        repair_mod.PERSPECTIVES[k % len(repair_mod.PERSPECTIVES)],
                        seed=options.seed * 1000 + k, parent=parent, temperature=temperature,
                        **values(parent))]
                    if r == 0:
                        # Small models tend to copy a bug they can see: also write the function
                        # afresh from its signature, docstring and the failing test.
                        attempts.append(partial(
                            gen.rewrite, "rewrite_test", seed=options.seed * 1000 + 500 + k,
                            temperature=temperature,
                            test_code="\n\n".join(
                                x for x in (task.test_code.strip(), task.guard_code) if x),
                            module_path=task.module_relpath or ""))
                    for attempt in attempts:
                        if cancel.cancelled:
                            raise Cancelled
                        fix = attempt()
                        if fix is None:
                            continue
                        verifier.check_trusted(fix)
                        pool.append(fix)
                        emit("repair" if r else "candidates",
                             f"fix {fix.id} ({fix.origin}): {fix.trusted_passed}/"
                             f"{fix.trusted_total} tests pass")
                        if fix.passes_trusted:
                            raise _Found
            parents = repair_mod.parents_for_repair(pool) or [original]
    except _Found:
        pass
    except Cancelled:
        return _result(task, None, "error", "cancelled", gen, verifier, pool, start, events)
    except TimeoutError:
        message = f" (time budget of {options.time_budget:.0f} s exhausted)"
    except EngineError as exc:
        message = f" (engine error: {exc})"
    passing = [c for c in pool if c.passes_trusted]
    if passing:
        best = passing[0]
        return _result(task, best, "verified",
                       f"{task.oracle_test} now passes"
                       + _guards_note(len(task.project_tests) - 1),
                       gen, verifier, pool, start, events)
    if not pool:
        return _result(task, None, "error", "the model produced no usable code" + message, gen,
                       verifier, pool, start, events)
    best = max(pool, key=lambda c: (c.trusted_passed, -c.id))
    return _result(task, best, "unverified",
                   f"no fix makes the test pass without breaking another (best: "
                   f"{best.trusted_passed}/{best.trusted_total}){message}",
                   gen, verifier, pool, start, events)


def _guards_note(n: int) -> str:
    if n == 0:
        return " (no other test in its file passed before)"
    if n == 1:
        return " and the test that passed before still passes"
    return f" and the {n} tests that passed before still pass"


def _result(task: Task, cand: Candidate | None, status: str, message: str, gen: Generator,
            verifier: Verifier, pool: list[Candidate], start: float, events: EventSink) -> Result:
    result = Result(
        status=status, file=task.file, function=task.qualname,
        code=cand.function_code if cand else "", message=message,
        evidence=Evidence(trusted_passed=cand.trusted_passed if cand else 0,
                          trusted_total=task.trusted_total, candidates=len(pool),
                          repairs=len(pool), sandbox_runs=verifier.runs),
        prompt_tokens=gen.usage.prompt_tokens, completion_tokens=gen.usage.completion_tokens,
        seconds=time.perf_counter() - start, phase="repair" if cand else "",
        program=verifier.program(cand) if cand else "",
        imports=list(cand.imports) if cand else [], helpers=list(cand.helpers) if cand else [],
    )
    events(Event("done", f"{status}: {message}", candidates=len(pool),
                 checks_passed=result.evidence.trusted_passed,
                 checks_total=task.trusted_total, percent=100, data={"status": status}))
    return result
