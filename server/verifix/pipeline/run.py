"""The pipeline, stage by stage: probe, inputs, candidates, checks, select, repair.

Honest by construction: only the task's trusted checks (docstring examples, the project's
tests, the test the user pointed at) can filter candidates; model-written inputs are used for
agreement between candidates, and model-predicted results only break ties.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from verifix.config import PipelineSettings
from verifix.engine.base import CancelToken, Engine, EngineError
from verifix.pipeline import repair as repair_mod
from verifix.pipeline.candidates import Candidate, Generator
from verifix.pipeline.checks import Verifier
from verifix.pipeline.events import PHASE_PERCENT, Event, EventSink, Phase, ignore
from verifix.pipeline.recombine import recombined_inputs
from verifix.pipeline.result import Evidence, Result
from verifix.pipeline.select import Selection, select
from verifix.pipeline.task import Cancelled, Task

N_INPUTS = 8  # model-proposed inputs per task
MAX_INPUTS = 12
MIN_NEW_INPUTS = 2  # fewer from the model: ask again (and recombine the docstring's examples)
EARLY_SAMPLES = 2  # independent samples tried to confirm a probe that passes the examples


class BudgetExhausted(Exception):
    pass


@dataclass
class Options:
    """What one run may do (the benchmark's switches change these); the defaults are
    PipelineSettings' (tests/unit/test_pipeline.py keeps the two in step)."""

    candidates: int = 4
    temperature: float = 0.8
    max_tokens: int = 768
    plans: bool = False
    generated_checks: bool = True
    repair: bool = False
    repair_rounds: int = 2
    resample: int = 4  # extra plain samples when no candidate passes the trusted checks
    # The probe's confirmation samples are plain samples too: they count toward `candidates`,
    # so k means k samples after the probe (same pass@1, 5.85x instead of 6.01x greedy's tokens).
    count_confirm: bool = True
    time_budget: float = 300.0
    early_stop: bool = True
    ask_again: bool = False  # for inputs, naming the calls the model copied (experiment)
    recombine_inputs: bool = False  # an experiment: `verifix bench humaneval --mode recombined`
    # Independence, so that agreement is evidence: samples that differ only in local names or
    # docstrings are one implementation, and `verified` needs a majority of every distinct
    # implementation written (not only of those passing the trusted checks).
    same_logic: bool = True
    majority_of_all: bool = True
    # Draw no further sample once the answer would be labelled verified: more samples could
    # only cost tokens (the probe's confirmation generalised to every sample).
    stop_when_verified: bool = True
    # With no inputs to compare on, the first candidate that passes the trusted checks is the
    # answer and `plausible` its label, whatever comes after: draw nothing more.
    stop_without_inputs: bool = True
    # The extra samples stop once this many distinct candidates pass the trusted checks (with
    # majority_of_all, a second one after so many failures cannot make the answer verified).
    resample_stop: int = 1
    seed: int = 0

    @classmethod
    def from_settings(cls, p: PipelineSettings, seed: int = 0) -> Options:
        return cls(candidates=p.candidates, temperature=p.temperature, max_tokens=p.maxTokens,
                   plans=p.plans, generated_checks=p.generatedChecks, repair=p.repair,
                   repair_rounds=p.repairRounds, resample=p.resample, time_budget=p.timeBudget,
                   seed=seed)


class Pipeline:
    def __init__(self, task: Task, engine: Engine, sandbox: Any, options: Options,
                 events: EventSink = ignore, cancel: CancelToken | None = None) -> None:
        self.task = task
        self.options = options
        self.events = events
        self.cancel = cancel or CancelToken()
        self.gen = Generator(engine, task, max_tokens=options.max_tokens, seed=options.seed,
                             cancel=self.cancel)
        self.verifier = Verifier(task, sandbox, self.cancel)
        self.pool: list[Candidate] = []
        self.inputs: list[str] = []
        self.expected: list[str | None] = []
        self.repairs = 0
        self.confirm_samples = 0
        self.start = time.perf_counter()
        self.phase: Phase = "task"

    # -- plumbing ------------------------------------------------------------------------
    def emit(self, phase: Phase, message: str, **data: Any) -> None:
        self.phase = phase
        best = max((c.trusted_passed for c in self.pool), default=0)
        self.events(Event(phase, message, candidates=len(self.pool), checks_passed=best,
                          checks_total=self.task.trusted_total,
                          percent=PHASE_PERCENT.get(phase, 0), data=data or None))

    def guard(self) -> None:
        if self.cancel.cancelled:
            raise Cancelled
        if time.perf_counter() - self.start > self.options.time_budget:
            raise BudgetExhausted

    def add(self, cand: Candidate | None) -> Candidate | None:
        """Check a new candidate against the trusted checks (and the inputs, if it passes)."""
        if cand is None:
            return None
        cand.same_logic = self.options.same_logic
        self.verifier.check_trusted(cand)
        self.pool.append(cand)
        if cand.passes_trusted or self.task.trusted_total == 0:
            self.verifier.behaviour(cand, self.inputs)
        self.emit(self.phase, f"candidate {cand.id} ({cand.origin}): "
                  f"{cand.trusted_passed}/{cand.trusted_total} trusted checks")
        return cand

    def _seed(self, n: int) -> int:
        return self.options.seed * 1000 + n

    # -- stages --------------------------------------------------------------------------
    def make_inputs(self) -> None:
        trusted_calls = {e.call for e in self.task.examples if e.expected is not None}
        calls = [c for c in self.task.example_inputs if c not in trusted_calls]
        expected: list[str | None] = [None] * len(calls)
        if self.options.generated_checks:
            self.emit("inputs", "asking the model for test inputs")
            proposed = self.gen.inputs(N_INPUTS, seed=self._seed(7))
            new = self._new(proposed, calls, trusted_calls)
            if len(new) < MIN_NEW_INPUTS and self.options.ask_again:
                existing = list(dict.fromkeys([*self.task.example_inputs,
                                               *(c for c, _ in proposed)]))
                more = self.gen.more_inputs(N_INPUTS, existing, seed=self._seed(8))
                new = self._new(proposed + more, calls, trusted_calls)
            calls += [c for c, _ in new]
            expected += [e for _, e in new]
        if len(calls) < MIN_NEW_INPUTS and self.options.recombine_inputs:
            recombined: list[tuple[str, str | None]] = [
                (c, None) for c in recombined_inputs(self.task.example_inputs, limit=4)]
            for call, _ in self._new(recombined, calls, trusted_calls):
                calls.append(call)
                expected.append(None)
        calls, expected = calls[:MAX_INPUTS], expected[:MAX_INPUTS]
        self.inputs = calls
        self.expected = self.verifier.evaluate_expected(expected) if calls else []
        self.emit("inputs", f"{len(self.inputs)} inputs to compare candidates on")

    @staticmethod
    def _new(proposed: list[tuple[str, str | None]], calls: list[str], trusted: set[str]
             ) -> list[tuple[str, str | None]]:
        seen = set(calls) | trusted
        out = []
        for call, exp in proposed:
            if call not in seen:
                seen.add(call)
                out.append((call, exp))
        return out

    def probe(self) -> Candidate | None:
        self.emit("probe", "greedy probe")
        return self.add(self.gen.code(temperature=0.0, seed=self._seed(0), origin="greedy"))

    def confirm_probe(self, probe: Candidate) -> bool:
        """Stop early only when an independent sample agrees with the probe on the inputs."""
        if not self.inputs or self.task.trusted_total == 0:
            return False
        for i in range(EARLY_SAMPLES):
            self.guard()
            self.confirm_samples += 1
            other = self.add(self.gen.code(temperature=self.options.temperature,
                                           seed=self._seed(10 + i)))
            if other is None or not other.passes_trusted:
                return False
            if other.key != probe.key:
                return other.behaviour == probe.behaviour
        return False

    def settled(self) -> bool:
        """More samples could not change the answer or its label: it would be verified, or
        there are no inputs to compare candidates on and one already passes the checks."""
        if not self.pool:
            return False
        if (self.options.stop_without_inputs and not self.inputs and self.task.trusted_total
                and any(c.passes_trusted for c in self.pool)):
            return True
        return self.options.stop_when_verified and self.select().status == "verified"

    def more_candidates(self) -> None:
        k = self.options.candidates
        plans: list[str] = []
        if self.options.plans and k >= 2:
            self.guard()
            self.emit("plans", "planning different approaches")
            plans = self.gen.plans(max(2, k // 2), temperature=0.7, seed=self._seed(20))
        self.emit("candidates", f"{len(plans)} plans; writing {k} candidates")
        for i, plan in enumerate(plans[:k]):
            self.guard()
            if self.settled():
                return
            self.add(self.gen.code(temperature=0.3, seed=self._seed(30 + i), plan=plan))
        plain = k - min(len(plans), k)
        if self.options.count_confirm:
            plain = max(0, plain - self.confirm_samples)
        for i in range(plain):
            self.guard()
            if self.settled():
                return
            self.add(self.gen.code(temperature=self.options.temperature,
                                   seed=self._seed(40 + i)))

    def resample_loop(self) -> None:
        """More plain samples while (by default) none passes the trusted checks: on HumanEval a
        fresh sample finds a passing answer where a repair of a failing one rarely does."""
        for i in range(self.options.resample):
            passing = {c.key for c in self.pool if c.passes_trusted}
            if len(passing) >= self.options.resample_stop or self.settled():
                return
            self.guard()
            self.emit("candidates", f"nothing passes yet; extra sample {i + 1}")
            self.add(self.gen.code(temperature=self.options.temperature,
                                   seed=self._seed(60 + i)))

    def repair_loop(self) -> None:
        for r in range(self.options.repair_rounds):
            passing = {c.key for c in self.pool if c.passes_trusted}
            if len(passing) >= 2 or not self.pool:
                return
            self.guard()
            self.emit("repair", f"repair round {r + 1}: fixing the closest candidates")
            for fix in repair_mod.repair_round(self.gen, self.verifier, self.pool, r,
                                               seed=self._seed(50 + 10 * r),
                                               temperature=self.options.temperature):
                self.repairs += 1
                fix.same_logic = self.options.same_logic
                self.pool.append(fix)
                if fix.passes_trusted:
                    self.verifier.behaviour(fix, self.inputs)
                self.emit("repair", f"repair {fix.id}: {fix.trusted_passed}/"
                          f"{fix.trusted_total} trusted checks")

    # -- the whole run -------------------------------------------------------------------
    def run(self) -> Result:
        task = self.task
        self.emit("task", f"{task.qualname}: {len(task.trusted_checks)} docstring checks, "
                  f"{len(task.project_tests)} project tests")
        answer_phase = "probe"
        note = ""
        try:
            probe = self.probe()
            self.guard()
            self.make_inputs()
            if probe is not None and probe.passes_trusted:
                self.verifier.behaviour(probe, self.inputs)
            if probe is not None and probe.passes_trusted and self.options.early_stop:
                self.emit("checks", "probe passes the trusted checks; looking for agreement")
                if self.confirm_probe(probe):
                    return self.finish(self.select(), "probe")
            self.guard()
            answer_phase = "candidates"
            self.more_candidates()
            if task.trusted_total and not any(c.passes_trusted for c in self.pool):
                self.resample_loop()
            if self.options.repair and task.trusted_total and not any(
                    c.passes_trusted for c in self.pool):
                answer_phase = "repair"
                self.repair_loop()
        except Cancelled:
            return self.finish(None, answer_phase, error="cancelled")
        except BudgetExhausted:
            note = f" (time budget of {self.options.time_budget:.0f} s exhausted)"
        except EngineError as exc:
            if not self.pool:
                return self.finish(None, answer_phase, error=f"engine error: {exc}")
            note = f" (stopped early: engine error: {exc})"
        self.emit("select", "selecting by trusted checks and agreement")
        selection = self.select()
        if selection.candidate is not None and selection.candidate.origin == "repair":
            answer_phase = "repair"
        elif selection.candidate is not None and selection.candidate.origin == "greedy":
            answer_phase = "probe"
        return self.finish(selection, answer_phase, note=note)

    def select(self) -> Selection:
        return select(self.pool, len(self.inputs), self.expected, self.task.trusted_total,
                      majority_of_all=self.options.majority_of_all)

    def finish(self, selection: Selection | None, phase: str, error: str = "",
               note: str = "") -> Result:
        task = self.task
        usage = self.gen.usage
        cand = selection.candidate if selection else None
        evidence = Evidence(
            trusted_passed=cand.trusted_passed if cand else 0,
            trusted_total=task.trusted_total,
            agreeing=selection.agreeing if selection else 0,
            considered=selection.considered if selection else 0,
            inputs=len(self.inputs),
            candidates=len(self.pool),
            repairs=self.repairs,
            sandbox_runs=self.verifier.runs,
        )
        if error:
            status, message = "error", error
        elif selection is None:
            status, message = "error", "nothing selected"
        else:
            status, message = selection.status, selection.reason + note
        result = Result(
            status=status,
            file=task.file,
            function=task.qualname,
            code=cand.function_code if cand else "",
            message=message,
            evidence=evidence,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            seconds=time.perf_counter() - self.start,
            phase=phase if cand else "",
            program=self.verifier.program(cand) if cand else "",
            imports=list(cand.imports) if cand else [],
            helpers=list(cand.helpers) if cand else [],
            candidate_programs=[self.verifier.program(c) for c in self.pool],
        )
        self.emit("done", f"{result.status}: {result.message}", status=result.status)
        return result


def generate(task: Task, engine: Engine, sandbox: Any, options: Options,
             events: EventSink = ignore, cancel: CancelToken | None = None) -> Result:
    engine.forget()  # the same task gives the same answer whatever ran before it
    return Pipeline(task, engine, sandbox, options, events, cancel).run()
