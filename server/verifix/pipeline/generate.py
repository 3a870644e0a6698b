"""Generate: probe, inputs, candidates, checks, select (and repair, when switched on).

Honest by construction: only the task's trusted checks (docstring examples, the project's
tests) can filter candidates; model-written inputs are used for agreement between candidates,
and model-predicted results only break ties.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from verifix.cancel import BudgetExhausted, Cancelled
from verifix.engine.base import EngineError
from verifix.pipeline import repair as repair_mod
from verifix.pipeline.candidates import Ask, Candidate
from verifix.pipeline.events import Interim
from verifix.pipeline.result import Result
from verifix.pipeline.run import Run, waves
from verifix.pipeline.select import Selection, select

N_INPUTS = 8  # model-proposed inputs per task
MAX_INPUTS = 12
EARLY_SAMPLES = 2  # independent samples tried to confirm a probe that passes the examples


class Generate(Run):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected: list[str | None] = []  # model-predicted results (soft votes)
        self.confirm_samples = 0
        self.offered = False

    def add(self, cand: Candidate | None) -> Candidate | None:
        """Check a new candidate against the trusted checks (and the inputs, if it passes)."""
        if cand is None:
            return None
        self.verifier.check_trusted(cand)
        self.pool.append(cand)
        if cand.passes_trusted or self.task.trusted_total == 0:
            self.verifier.behaviour(cand, self.inputs)
        self.emit(self.phase, f"candidate {cand.id} ({cand.origin}): "
                  f"{cand.trusted_passed}/{cand.trusted_total} trusted checks")
        if cand.passes_trusted and self.task.trusted_total and not self.offered:
            self.offer(cand)
        return cand

    def draw(self, asks: list[Ask]) -> list[Candidate | None]:
        """One wave of candidates, each checked as it comes."""
        return [self.add(c) for c in self.gen.many(asks)]

    def samples(self, first: int, n: int) -> list[Ask]:
        return [self.gen.ask_code(temperature=self.settings.temperature,
                                  seed=self.sample_seed(first + i)) for i in range(n)]

    # -- stages --------------------------------------------------------------------------
    def make_inputs(self, proposed: list[tuple[str, str | None]] | None = None) -> None:
        """The inputs to compare candidates on: the docstring's calls without an expected
        value, then the model's (`proposed`, when already asked for)."""
        trusted_calls = {e.call for e in self.task.examples if e.expected is not None}
        calls = [c for c in self.task.example_inputs if c not in trusted_calls]
        expected: list[str | None] = [None] * len(calls)
        if self.settings.generatedChecks:
            if proposed is None:
                self.emit("inputs", "asking the model for test inputs")
                proposed = self.gen.inputs(N_INPUTS, seed=self.sample_seed(7))
            seen = set(calls) | trusted_calls
            for call, exp in proposed:
                if call not in seen:
                    seen.add(call)
                    calls.append(call)
                    expected.append(exp)
        calls, expected = calls[:MAX_INPUTS], expected[:MAX_INPUTS]
        self.inputs = calls
        self.expected = self.verifier.evaluate_expected(expected) if calls else []
        self.emit("inputs", f"{len(self.inputs)} inputs to compare candidates on")

    def inputs_with_a_sample(self) -> Candidate | None:
        """The inputs and the first plain sample, decoded together: both are needed whatever
        the probe did (the sample confirms the probe, or is the first candidate after it).
        The sample is returned unchecked: it is checked once the inputs are known."""
        self.emit("inputs", "asking the model for test inputs and a first sample")
        proposed, sample = self.gen.many([self.gen.ask_inputs(N_INPUTS, seed=self.sample_seed(7)),
                                          *self.samples(10, 1)])
        self.confirm_samples += 1
        self.make_inputs(proposed)
        return sample

    def probe(self) -> Candidate | None:
        self.emit("probe", "greedy probe")
        return self.add(self.gen.code(temperature=0.0, seed=self.sample_seed(0),
                                      origin="greedy"))

    def offer(self, cand: Candidate) -> None:
        """The first candidate that passes the trusted checks (the probe, when it does): the
        editor can show it while agreement runs."""
        self.offered = True
        message = (f"passes {cand.trusted_passed}/{cand.trusted_total} trusted checks; "
                   "looking for agreement")
        self.emit(self.phase, f"plausible answer so far: {message}",
                  interim=Interim("plausible", cand.function_code, message,
                                  self.verifier.program(cand)))

    def confirm_probe(self, probe: Candidate, drawn: list[Candidate | None]) -> bool:
        """Stop early only when an independent sample agrees with the probe on the inputs.
        `drawn`: the samples already drawn for it."""
        if not self.inputs or self.task.trusted_total == 0:
            return False

        def others() -> Iterator[Candidate | None]:
            yield from drawn
            more = self.samples(10 + len(drawn), EARLY_SAMPLES - len(drawn))
            for wave in waves(more, self.wave):
                self.guard()
                self.confirm_samples += len(wave)
                yield from self.draw(wave)

        for other in others():
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
        if (not self.inputs and self.task.trusted_total
                and any(c.passes_trusted for c in self.pool)):
            return True
        return self.select().status == "verified"

    def more_candidates(self) -> None:
        k = self.settings.candidates
        plans: list[str] = []
        if self.settings.plans and k >= 2:
            self.guard()
            self.emit("plans", "planning different approaches")
            plans = self.gen.plans(max(2, k // 2), temperature=0.7, seed=self.sample_seed(20))
        self.emit("candidates", f"{len(plans)} plans; writing {k} candidates")
        guided = [self.gen.ask_code(temperature=0.3, seed=self.sample_seed(30 + i), plan=plan)
                  for i, plan in enumerate(plans[:k])]
        # The probe's confirmation samples are plain samples too: k is a maximum.
        plain = max(0, k - len(guided) - self.confirm_samples)
        for wave in waves(guided + self.samples(40, plain), self.wave):
            self.guard()
            if self.settled():
                return
            self.draw(wave)

    def resample_loop(self) -> None:
        """More plain samples while none passes the trusted checks: on HumanEval a fresh
        sample finds a passing answer where a repair of a failing one rarely does."""
        drawn = 0
        for wave in waves(self.samples(60, self.settings.resample), self.wave):
            if any(c.passes_trusted for c in self.pool) or self.settled():
                return
            self.guard()
            drawn += len(wave)
            self.emit("candidates", f"nothing passes yet; extra sample {drawn}")
            self.draw(wave)

    def repair_loop(self) -> None:
        for r in range(self.settings.repairRounds):
            passing = {c.key for c in self.pool if c.passes_trusted}
            if len(passing) >= 2 or not self.pool:
                return
            self.guard()
            self.emit("repair", f"repair round {r + 1}: fixing the closest candidates")
            for fix in repair_mod.repair_round(self.gen, self.verifier, self.pool, r,
                                               seed=self.sample_seed(50 + 10 * r),
                                               temperature=self.settings.temperature,
                                               wave=self.wave):
                self.repairs += 1
                self.pool.append(fix)
                if fix.passes_trusted:
                    self.verifier.behaviour(fix, self.inputs)
                self.emit("repair", f"repair {fix.id}: {fix.trusted_passed}/"
                          f"{fix.trusted_total} trusted checks")

    def select(self) -> Selection:
        return select(self.pool, len(self.inputs), self.expected, self.task.trusted_total)

    # -- the whole run -------------------------------------------------------------------
    def run(self) -> Result:
        task = self.task
        self.emit("task", f"{task.qualname}: {len(task.trusted_checks)} docstring checks, "
                  f"{len(task.project_tests)} project tests")
        phase = "probe"
        note = ""
        try:
            probe = self.probe()
            self.guard()
            # Decoded beside the inputs when the engine decodes several at once (`wave`).
            paired = (self.wave >= 2 and self.settings.generatedChecks
                      and task.trusted_total > 0)
            sample = self.inputs_with_a_sample() if paired else None
            if not paired:
                self.make_inputs()
            if probe is not None and probe.passes_trusted:
                self.verifier.behaviour(probe, self.inputs)
            drawn = [self.add(sample)] if paired else []
            if probe is not None and probe.passes_trusted:
                self.emit("checks", "probe passes the trusted checks; looking for agreement")
                if self.confirm_probe(probe, drawn):
                    return self.chosen(self.select(), "probe")
            self.guard()
            phase = "candidates"
            self.more_candidates()
            if task.trusted_total and not any(c.passes_trusted for c in self.pool):
                self.resample_loop()
            if self.settings.repair and task.trusted_total and not any(
                    c.passes_trusted for c in self.pool):
                phase = "repair"
                self.repair_loop()
        except Cancelled:
            return self.finish("error", "cancelled", None, phase)
        except BudgetExhausted:
            note = self.budget_note
        except EngineError as exc:
            if not self.pool:
                return self.finish("error", f"engine error: {exc}", None, phase)
            note = f" (stopped early: engine error: {exc})"
        self.emit("select", "selecting by trusted checks and agreement")
        selection = self.select()
        origin = selection.candidate.origin if selection.candidate is not None else ""
        phase = {"repair": "repair", "greedy": "probe"}.get(origin, phase)
        return self.chosen(selection, phase, note)

    def chosen(self, selection: Selection, phase: str, note: str = "") -> Result:
        return self.finish(selection.status, selection.reason + note, selection.candidate,
                           phase, selection)
