"""What every pipeline run shares, generate and repair alike: the model and sandbox handles, the
candidate pool, events, the cancel and time guard, and the Result it ends with."""

from __future__ import annotations

import time
from typing import Any, TypeVar

from verifix.cancel import BudgetExhausted, Cancelled, CancelToken, Deadline
from verifix.config import PipelineSettings
from verifix.engine.base import Engine
from verifix.pipeline.candidates import Candidate, Generator
from verifix.pipeline.checks import Verifier
from verifix.pipeline.events import PHASE_PERCENT, Event, EventSink, Interim, Phase, ignore
from verifix.pipeline.result import Evidence, Result
from verifix.pipeline.select import Selection
from verifix.pipeline.task import Task
from verifix.sandbox.base import Runner

T = TypeVar("T")


def waves(items: list[T], size: int) -> list[list[T]]:
    """`items` in consecutive groups of `size` (the last may be smaller)."""
    return [items[i:i + size] for i in range(0, len(items), size)]


class Run:
    def __init__(self, task: Task, engine: Engine, sandbox: Runner, settings: PipelineSettings,
                 seed: int = 0, events: EventSink = ignore,
                 cancel: CancelToken | None = None) -> None:
        engine.forget()  # the same task gives the same answer whatever ran before it
        self.task = task
        self.settings = settings
        self.seed = seed
        self.events = events
        self.cancel = cancel or CancelToken()
        self.deadline = Deadline(self.cancel, settings.timeBudget)
        self.gen = Generator(engine, task, max_tokens=settings.maxTokens, seed=seed,
                             cancel=self.deadline, thinking_budget=settings.thinkingBudget)
        self.verifier = Verifier(task, sandbox, self.cancel)
        self.wave = max(1, min(settings.wave, engine.parallel))
        self.pool: list[Candidate] = []
        self.inputs: list[str] = []
        self.repairs = 0
        self.start = time.perf_counter()
        self.phase: Phase = "task"

    def emit(self, phase: Phase, message: str, interim: Interim | None = None,
             **data: Any) -> None:
        self.phase = phase
        best = max((c.trusted_passed for c in self.pool), default=0)
        self.events(Event(phase, message, candidates=len(self.pool), checks_passed=best,
                          checks_total=self.task.trusted_total,
                          percent=PHASE_PERCENT.get(phase, 0), data=data or None,
                          interim=interim))

    def guard(self) -> None:
        if self.cancel.cancelled:
            raise Cancelled
        if time.perf_counter() - self.start > self.settings.timeBudget:
            raise BudgetExhausted

    def sample_seed(self, n: int) -> int:
        """The seed of the run's n-th kind of sample: fixed per task, so reruns agree."""
        return self.seed * 1000 + n

    @property
    def budget_note(self) -> str:
        return f" (time budget of {self.settings.timeBudget:.0f} s exhausted)"

    def finish(self, status: str, message: str, cand: Candidate | None, phase: str,
               selection: Selection | None = None) -> Result:
        self.deadline.close()
        task = self.task
        result = Result(
            status=status,
            file=task.file,
            function=task.qualname,
            code=cand.function_code if cand else "",
            message=message,
            evidence=Evidence(
                trusted_passed=cand.trusted_passed if cand else 0,
                trusted_total=task.trusted_total,
                agreeing=selection.agreeing if selection else 0,
                considered=selection.considered if selection else 0,
                inputs=len(self.inputs),
                candidates=len(self.pool),
                repairs=self.repairs,
                sandbox_runs=self.verifier.runs,
            ),
            prompt_tokens=self.gen.usage.prompt_tokens,
            completion_tokens=self.gen.usage.completion_tokens,
            seconds=time.perf_counter() - self.start,
            phase=phase if cand else "",
            program=self.verifier.program(cand) if cand else "",
            imports=list(cand.imports) if cand else [],
            helpers=list(cand.helpers) if cand else [],
            changes=[{"file": str(r.path), "function": r.qualname, "code": cand.changes[r.key]}
                     for r in task.related if cand and r.key in cand.changes],
            candidate_programs=[self.verifier.program(c) for c in self.pool],
            candidate_origins=[c.origin for c in self.pool],
            origin=cand.origin if cand else "",
            model_time=self.gen.usage.by_kind,
        )
        self.emit("done", f"{result.status}: {result.message}", status=result.status)
        return result
