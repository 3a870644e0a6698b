"""Repair: when nothing passes the trusted checks, fix the closest candidates from real traces.

Each round looks at a failure from another perspective (logic, missing cases, wrong
assumptions, another algorithm). A fix is re-run against ALL trusted checks, so a repair
that fixes one check and breaks another scores no better than before and is never selected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from verifix.pipeline.candidates import Candidate, Generator
from verifix.pipeline.checks import Verifier

PERSPECTIVES = ["perspective_logic", "perspective_cases", "perspective_assumptions",
                "perspective_rewrite"]


def parents_for_repair(pool: list[Candidate], n: int = 2) -> list[Candidate]:
    """The closest distinct candidates: by trusted checks passed (ties: earliest), except that
    in a repair those the failing test got a value back from come first. A wrong value is one
    step from the right one, while code that raises where the test wants a value (a small
    model's favourite dead end) only looks closer when it passes as many of the other tests as
    the bug did."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for c in sorted(pool, key=lambda c: (not c.oracle_returned, -c.trusted_passed, c.id)):
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
        if len(out) == n:
            break
    return out


def repair_round(
    gen: Generator,
    verifier: Verifier,
    pool: list[Candidate],
    round_index: int,
    *,
    seed: int,
    temperature: float,
    template: str = "repair",
    extra: Callable[[Candidate], dict[str, Any]] | None = None,
    wave: int = 1,
) -> list[Candidate]:
    """One round: repair each of the best parents once; return the checked fixes."""
    asks = []
    for i, parent in enumerate(parents_for_repair(pool)):
        perspective = PERSPECTIVES[(round_index * 2 + i) % len(PERSPECTIVES)]
        values: dict[str, Any] = (
            extra(parent) if extra else {
                "code": parent.function_code.strip(),
                "failures": "\n\n".join(parent.failures[:3]) or "(no failure text)",
            }
        )
        asks.append(gen.ask_repair(template, perspective, seed=seed + 101 * round_index + i,
                                   temperature=temperature if round_index or i else 0.0,
                                   parent=parent, **values))
    fixes: list[Candidate] = []
    for group in range(0, len(asks), wave):
        for fix in gen.many(asks[group:group + wave]):
            if fix is not None:
                verifier.check_trusted(fix)
                fixes.append(fix)
    return fixes
