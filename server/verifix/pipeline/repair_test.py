""""Repair failing test": the failing test is the oracle, the file's other passing tests guard.

The code under test is rewritten, never the test. `verified` means the test now passes and
nothing that passed before fails (all of them run against the candidate, in the sandbox).
"""

from __future__ import annotations

from collections.abc import Iterator

from verifix import code as pycode
from verifix import prompt
from verifix.cancel import BudgetExhausted, Cancelled
from verifix.engine.base import EngineError
from verifix.pipeline import repair as repair_mod
from verifix.pipeline.candidates import Ask, Candidate
from verifix.pipeline.events import Phase
from verifix.pipeline.result import Result
from verifix.pipeline.run import Run, waves
from verifix.pipeline.task import stub_text


class RepairTest(Run):
    def rounds(self, original: Candidate) -> Iterator[list[tuple[Phase, Ask]]]:
        """The fixes to write, round by round. The first round repairs the code as it is and
        also rewrites it afresh (small models tend to copy a bug they can see); later rounds
        repair the closest fixes so far (chosen when the round before has been checked)."""
        task, s = self.task, self.settings
        parents = [original]
        for r in range(max(1, s.repairRounds + 1)):
            asks: list[tuple[Phase, Ask]] = []
            for i, parent in enumerate(parents):
                for j in range(max(1, s.candidates // 2) if r == 0 else 1):
                    k = r * 10 + i * 3 + j
                    temperature = 0.0 if k == 0 else s.temperature
                    perspective = repair_mod.PERSPECTIVES[k % len(repair_mod.PERSPECTIVES)]
                    if r or s.repairFixes:
                        asks.append((("repair" if r else "candidates"), self.gen.ask_repair(
                            "repair_test", perspective, seed=self.sample_seed(k),
                            parent=parent, temperature=temperature,
                            origin="round-repair" if r else "repair",
                            **self.failure_values(parent))))
                    if r == 0 and (s.repairRewrites or not s.repairFixes):
                        asks.append(("candidates", self.gen.ask_rewrite(
                            "rewrite_test", seed=self.sample_seed(500 + k),
                            temperature=temperature,
                            test_code="\n\n".join(
                                x for x in (task.test_code.strip(), task.guard_code) if x),
                            module_path=task.module_relpath or "",
                            failure=pycode.report_without_code(task.oracle_failure))))
            yield asks
            parents = repair_mod.parents_for_repair(self.pool) or [original]

    def write_fixes(self, original: Candidate) -> None:
        """Round after round, wave after wave, until a fix passes every test."""
        for asks in self.rounds(original):
            for wave in waves(asks, self.wave):
                self.guard()
                fixes = self.gen.many([ask for _, ask in wave])
                for (phase, _), fix in zip(wave, fixes, strict=True):
                    if fix is None:
                        continue
                    self.verifier.check_trusted(fix)
                    self.pool.append(fix)
                    self.repairs += 1
                    self.emit(phase, f"fix {fix.id} ({fix.origin}): {fix.trusted_passed}/"
                              f"{fix.trusted_total} tests pass")
                    if fix.passes_trusted:
                        return

    def failure_values(self, parent: Candidate) -> dict[str, object]:
        task = self.task
        failures = parent.failures[:2] if parent.failures else [task.oracle_failure]
        return {"code": parent.function_code.strip(), "test_code": task.test_code.strip(),
                "related": self.related_text(parent),
                "test_name": task.oracle_test or "", "module_path": task.module_relpath or "",
                "failures": "\n\n".join(f[:1500] for f in failures)}

    def related_text(self, parent: Candidate) -> str:
        """The functions the target calls, as the parent has them (with its changes)."""
        if not self.task.related:
            return ""
        functions = "\n\n".join(
            f"# in {r.relpath}\n"
            + (parent.changes.get(r.key) or stub_text(r.fn, r.source, with_body=True)).strip()
            for r in self.task.related)
        return prompt.render("repair_related", name=self.task.name, functions=functions) + "\n"

    def run(self) -> Result:
        task = self.task
        original = Candidate(0, "original", stub_text(task.fn, task.source, with_body=True))
        note = ""
        try:
            self.emit("task", f"{task.oracle_test} fails; {len(task.project_tests) - 1} passing "
                      f"tests guard against regressions")
            self.verifier.check_trusted(original)
            self.emit("candidates", "writing fixes")
            self.write_fixes(original)
        except Cancelled:
            return self.finish("error", "cancelled", None, "repair")
        except BudgetExhausted:
            note = self.budget_note
        except EngineError as exc:
            note = f" (engine error: {exc})"
        passing = [c for c in self.pool if c.passes_trusted]
        if passing:
            return self.finish("verified", f"{task.oracle_test} now passes"
                               + _guards_note(len(task.project_tests) - 1), passing[0], "repair")
        if not self.pool:
            return self.finish("error", "the model produced no usable code" + note, None,
                               "repair")
        best = max(self.pool, key=lambda c: (c.trusted_passed, -c.id))
        others = len(task.project_tests) - 1 + len(task.trusted_checks)
        what = "the test pass without breaking another check" if others else "the test pass"
        return self.finish("unverified", f"no fix makes {what} (best: {best.trusted_passed}/"
                           f"{best.trusted_total} checks pass){note}", best, "repair")


def _guards_note(n: int) -> str:
    if n == 0:
        return " (no other test in its file passed before)"
    if n == 1:
        return " and the test that passed before still passes"
    return f" and the {n} tests that passed before still pass"
