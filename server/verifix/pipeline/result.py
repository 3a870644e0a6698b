"""The outcome of a job: status, code and the evidence for it (the CLI's JSON contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Evidence:
    trusted_passed: int = 0
    trusted_total: int = 0
    agreeing: int = 0
    considered: int = 0
    inputs: int = 0
    candidates: int = 0
    repairs: int = 0
    sandbox_runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "trusted_checks": {"passed": self.trusted_passed, "total": self.trusted_total},
            "generated_checks": {"agreeing": self.agreeing, "total": self.considered,
                                 "inputs": self.inputs},
            "candidates": self.candidates,
            "repairs": self.repairs,
            "sandbox_runs": self.sandbox_runs,
        }


@dataclass
class Result:
    status: str  # verified | plausible | unverified | error
    file: str | None
    function: str | None
    code: str  # the function as it would be written into the file ("" when none)
    message: str
    evidence: Evidence = field(default_factory=Evidence)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    phase: str = ""  # the stage that produced the answer: probe | candidates | repair
    program: str = ""  # the whole module with the code in place
    imports: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)
    # Repair: functions the target calls that the fix also changes, each {file, function, code}.
    changes: list[dict[str, str]] = field(default_factory=list)
    # Every candidate's program, for analysis only (the benchmark's ceiling); never selection.
    candidate_programs: list[str] = field(default_factory=list)
    candidate_origins: list[str] = field(default_factory=list)  # each one's Candidate.origin
    origin: str = ""  # the chosen candidate's
    # The model's share of `seconds`, by kind of request (Usage.by_kind): benchmarks only.
    model_time: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"verified": 0, "plausible": 0, "unverified": 1}.get(self.status, 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "file": self.file,
            "function": self.function,
            "code": self.code,
            "changes": self.changes,
            "evidence": self.evidence.to_dict(),
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "phase": self.phase,
        }
