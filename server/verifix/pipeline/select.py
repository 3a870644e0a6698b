"""Selection: trusted checks are a hard filter; then the largest behaviour cluster wins.

Candidates are clustered by identical behaviour on the generated inputs. Agreement is
counted over *distinct* implementations: two identical samples are one opinion, not two, and
`verified` needs a majority of every distinct implementation written, so failed attempts
count against it. Model-predicted results (soft votes) only break ties between clusters of
the same size, so a wrong prediction can never override agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from verifix.pipeline.candidates import Candidate


@dataclass
class Cluster:
    behaviour: tuple[str, ...]
    members: list[Candidate] = field(default_factory=list)
    votes: int = 0  # inputs where the behaviour matches a model-predicted result

    @property
    def distinct(self) -> int:
        return len({c.key for c in self.members})

    @property
    def errors(self) -> int:
        return sum(1 for b in self.behaviour if b.startswith("!"))

    def rank(self) -> tuple[int, int, int, int, int]:
        return (self.distinct, len(self.members), self.votes, -self.errors,
                -min(c.id for c in self.members))


@dataclass
class Selection:
    status: str  # verified | plausible | unverified | error
    candidate: Candidate | None
    cluster: Cluster | None
    agreeing: int  # distinct implementations in the winning cluster
    considered: int  # distinct implementations that were eligible
    inputs: int
    reason: str


def cluster(candidates: list[Candidate], expected: list[str | None] | None = None
            ) -> list[Cluster]:
    groups: dict[tuple[str, ...], Cluster] = {}
    for c in candidates:
        key = c.behaviour or ()
        groups.setdefault(key, Cluster(key)).members.append(c)
    if expected:
        for g in groups.values():
            g.votes = sum(1 for b, e in zip(g.behaviour, expected, strict=False)
                          if e is not None and b == e)
    return sorted(groups.values(), key=Cluster.rank, reverse=True)


def select(candidates: list[Candidate], n_inputs: int, expected: list[str | None] | None = None,
           trusted_total: int = 0) -> Selection:
    if not candidates:
        return Selection("error", None, None, 0, 0, n_inputs, "the model produced no usable code")
    if trusted_total > 0:
        eligible = [c for c in candidates if c.passes_trusted]
        if not eligible:
            best = max(candidates, key=lambda c: (c.trusted_passed, -c.id))
            return Selection(
                "unverified", best, None, 0, 0, n_inputs,
                f"no candidate passes every trusted check (best: {best.trusted_passed}/"
                f"{trusted_total})",
            )
    else:
        eligible = candidates
        working = [c for c in eligible if c.behaviour and not all(
            b.startswith("!") for b in c.behaviour)]
        eligible = working or eligible
    groups = cluster(eligible, expected)
    top = groups[0]
    chosen = min(top.members, key=lambda c: c.id)
    considered = len({c.key for c in candidates})
    agree = n_inputs > 0 and top.distinct >= 2 and top.distinct * 2 > considered
    if trusted_total > 0:
        if agree:
            return Selection("verified", chosen, top, top.distinct, considered, n_inputs,
                             f"passes {trusted_total}/{trusted_total} trusted checks; "
                             f"{top.distinct} of {considered} independent implementations agree "
                             f"on {n_inputs} generated inputs")
        why = ("no generated inputs to compare on" if n_inputs == 0 else
               f"only {top.distinct} of {considered} independent implementations agree")
        return Selection("plausible", chosen, top, top.distinct, considered, n_inputs,
                         f"passes {trusted_total}/{trusted_total} trusted checks, but {why}")
    if agree:
        return Selection("plausible", chosen, top, top.distinct, considered, n_inputs,
                         f"no trusted checks; {top.distinct} of {considered} independent "
                         f"implementations agree on {n_inputs} generated inputs")
    return Selection("unverified", chosen, top, top.distinct, considered, n_inputs,
                     "no trusted checks (no docstring examples or tests) and no agreement "
                     "between implementations")
