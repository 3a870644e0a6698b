"""Candidates from the model: a greedy probe, PlanSearch-lite plans, diversified samples.

Every prompt of one task starts with the same system prompt and spec, so the engine's KV
cache evaluates that prefix once for all candidates.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from verifix import code as pycode
from verifix import prompt
from verifix.cancel import BudgetExhausted, Cancelled, Deadline
from verifix.code.same_logic import logic_key
from verifix.engine.base import CancelToken, Completion, Engine, Message, Sample, Stop
from verifix.engine.thinking import generate_with_thinking_budget
from verifix.pipeline.task import Task

# Stop at the closing fence: the prose models add after their code costs tokens and time.
CODE_STOP: list[Stop] = ["\n```\n", "\n```\r\n"]


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    # Where the model's time went, by kind of request (code, inputs, plans, repair, rewrite):
    # {kind: {"calls", "completion_tokens", "prompt_tokens_evaluated", "seconds"}}.
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, c: Completion, kind: str) -> None:
        self.prompt_tokens += c.prompt_tokens
        self.completion_tokens += c.completion_tokens
        self.calls += 1
        k = self.by_kind.setdefault(kind, dict.fromkeys(
            ("calls", "completion_tokens", "prompt_tokens_evaluated", "seconds"), 0))
        k["calls"] += 1
        k["completion_tokens"] += c.completion_tokens
        evaluated = c.prompt_tokens if c.prompt_tokens_evaluated is None else (
            c.prompt_tokens_evaluated)
        k["prompt_tokens_evaluated"] += evaluated
        k["seconds"] += c.seconds


@dataclass
class Candidate:
    id: int
    origin: str  # "greedy" | "sample" | "plan" | "repair" | "rewrite" | "round-repair"
    function_code: str  # the definition of the target function, at column 0
    imports: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)
    plan: str | None = None
    parent: int | None = None  # the candidate a repair started from
    # Repair only: new definitions of functions the target calls ({Related.key: code}).
    changes: dict[str, str] = field(default_factory=dict)
    # Filled in by checks:
    trusted_passed: int = 0
    trusted_total: int = 0
    failures: list[str] = field(default_factory=list)
    # Repair only: the failing test got a value back and judged it (it failed at its own
    # assertion), rather than the code raising or stopping on the way.
    oracle_returned: bool = False
    behaviour: tuple[str, ...] | None = None

    @property
    def passes_trusted(self) -> bool:
        return self.trusted_passed == self.trusted_total

    @property
    def key(self) -> str:
        """Implementations that differ only in formatting, comments, docstrings or local
        names share a key: they are one opinion, not independent evidence."""
        key = logic_key(self.function_code)
        for name, code in sorted(self.changes.items()):
            key += f"\n# {name}\n" + logic_key(code)
        return key


@dataclass
class Ask:
    """One request to the engine and what its reply becomes."""

    messages: list[Message]
    temperature: float
    seed: int
    finish: Callable[[str], Any]
    max_tokens: int | None = None
    stop: list[Stop] | None = None
    kind: str = "code"  # what it asks for (Usage.by_kind)


class Generator:
    """Asks the engine for code, plans and test inputs for one task."""

    def __init__(self, engine: Engine, task: Task, *, max_tokens: int, seed: int,
                 cancel: CancelToken | None, thinking_budget: int = 0) -> None:
        self.engine = engine
        self.task = task
        self.max_tokens = max_tokens
        self.seed = seed
        self.cancel = cancel
        self.thinking_budget = thinking_budget
        self.usage = Usage()
        self._next_id = 0

    def _messages(self, template: str, **values: object) -> list[Message]:
        fields = {"name": self.task.name, "stub": self.task.stub, "context": self.task.context}
        wanted = prompt.placeholders(template)
        body = prompt.render(template, **{k: v for k, v in fields.items() if k in wanted},
                             **values)
        return [{"role": "system", "content": prompt.render("system")},
                {"role": "user", "content": body}]

    def _cancel_for_next(self) -> tuple[CancelToken | None, CancelToken | None]:
        """(the token for the next call, the job's own token). The first reply (the probe, the
        greedy fix) always finishes, so a slow machine still gets an answer; the time budget
        cuts the replies after it."""
        job = self.cancel.parent if isinstance(self.cancel, Deadline) else self.cancel
        return (self.cancel if self.usage.calls else job), job

    def _took(self, c: Completion, job: CancelToken | None, kind: str) -> str:
        self.usage.add(c, kind)
        if c.stopped_by == "cancel":  # a reply cut short is no answer
            if job is not None and not job.cancelled:
                raise BudgetExhausted
            raise Cancelled
        return c.text

    def _complete(self, messages: list[Message], *, temperature: float, seed: int,
                  max_tokens: int | None = None, stop: list[Stop] | None = None,
                  kind: str = "code") -> str:
        generate = self.engine.generate
        if self.engine.thinks and self.thinking_budget > 0:
            generate = partial(generate_with_thinking_budget, self.engine,
                               think_budget=self.thinking_budget)
        cancel, job = self._cancel_for_next()
        c = generate(messages, max_tokens=max_tokens or self.max_tokens,
                     temperature=temperature, top_p=_top_p(temperature), seed=seed,
                     stop=stop, cancel=cancel)
        return self._took(c, job, kind)

    def one(self, ask: Ask) -> Any:
        return ask.finish(self._complete(ask.messages, temperature=ask.temperature,
                                         seed=ask.seed, max_tokens=ask.max_tokens,
                                         stop=ask.stop, kind=ask.kind))

    def many(self, asks: list[Ask]) -> list[Any]:
        """The asks' results in order, decoded together where the engine can."""
        if len(asks) < 2 or self.engine.parallel < 2 or (
                self.engine.thinks and self.thinking_budget > 0):
            return [self.one(a) for a in asks]
        cancel, job = self._cancel_for_next()
        done = self.engine.generate_many(
            [Sample(a.messages, a.temperature, _top_p(a.temperature), a.seed,
                    a.max_tokens or self.max_tokens, tuple(a.stop or ())) for a in asks],
            cancel=cancel)
        texts = [self._took(c, job, a.kind) for a, c in zip(asks, done, strict=True)]
        return [a.finish(t) for a, t in zip(asks, texts, strict=True)]

    def _candidate(self, reply: str, origin: str, plan: str | None = None,
                   parent: Candidate | None = None) -> Candidate | None:
        extracted = pycode.extract_function(reply, self.task.name)
        changes: dict[str, str] = {}
        helpers: list[str] = list(extracted.helpers) if extracted else []
        imports: list[str] = list(extracted.imports) if extracted else []
        # A reply may also fix a function the target calls (repair shows them).
        for related in self.task.related:
            if related.fn.class_name is not None or related.fn.name == self.task.name:
                continue
            mine = [h for h in helpers if _defines(h, related.fn.name)]
            if mine:
                changes[related.key] = mine[-1].strip() + "\n"
                helpers = [h for h in helpers if h not in mine]
            elif extracted is None:
                found = pycode.extract_function(reply, related.fn.name)
                if found is not None:
                    changes[related.key] = found.function
                    imports += [i for i in found.imports if i not in imports]
        if extracted is not None:
            function = extracted.function
        elif changes and parent is not None:
            function = parent.function_code
        else:
            return None
        if parent is not None and origin != "rewrite":
            changes = {**parent.changes, **changes}  # what the parent fixed elsewhere stays
        self._next_id += 1
        return Candidate(self._next_id, origin, function, imports, helpers, plan=plan,
                         parent=parent.id if parent else None, changes=changes)

    def ask_code(self, *, temperature: float, seed: int, plan: str | None = None,
                 origin: str = "sample") -> Ask:
        if plan is None:
            messages = self._messages("generate")
        else:
            messages = self._messages("generate_with_plan", plan=plan)
        kind = "probe" if origin == "greedy" else "code"
        return Ask(messages, temperature, seed, stop=CODE_STOP, kind=kind, finish=lambda reply:
                   self._candidate(reply + "\n```\n", origin if plan is None else "plan", plan))

    def code(self, *, temperature: float, seed: int, plan: str | None = None,
             origin: str = "sample") -> Candidate | None:
        return self.one(self.ask_code(temperature=temperature, seed=seed, plan=plan,
                                      origin=origin))

    def plans(self, count: int, *, temperature: float, seed: int) -> list[str]:
        reply = self._complete(self._messages("plans", count=count), temperature=temperature,
                               seed=seed, max_tokens=96 * count + 64, kind="plans")
        return parse_plans(reply)[:count]

    def ask_inputs(self, count: int, *, seed: int) -> Ask:
        """Model-proposed calls with (soft, untrusted) expected results."""
        return Ask(self._messages("inputs", count=count), 0.0, seed,
                   max_tokens=40 * count + 64, kind="inputs",
                   stop=[*CODE_STOP, EnoughCalls(self.task.name, count)],
                   finish=lambda reply: parse_input_asserts(reply, self.task.name))

    def inputs(self, count: int, *, seed: int) -> list[tuple[str, str | None]]:
        result: list[tuple[str, str | None]] = self.one(self.ask_inputs(count, seed=seed))
        return result

    def ask_rewrite(self, template: str, *, seed: int, temperature: float,
                    **values: object) -> Ask:
        """A fresh implementation from the stub and `values` (e.g. the failing test), written
        without the broken code in view, so the model cannot copy the bug."""
        return Ask(self._messages(template, **values), temperature, seed, kind="rewrite",
                   finish=lambda reply: self._candidate(reply, "rewrite"))

    def rewrite(self, template: str, *, seed: int, temperature: float,
                **values: object) -> Candidate | None:
        return self.one(self.ask_rewrite(template, seed=seed, temperature=temperature,
                                         **values))

    def ask_repair(self, template: str, perspective: str, *, seed: int, temperature: float,
                   parent: Candidate, origin: str = "repair", **values: object) -> Ask:
        messages = self._messages(template, perspective=prompt.render(perspective), **values)
        return Ask(messages, temperature, seed, max_tokens=self.max_tokens + 200,
                   kind="repair",
                   finish=lambda reply: self._candidate(reply, origin, parent=parent))

    def repair(self, template: str, perspective: str, *, seed: int, temperature: float,
               parent: Candidate, origin: str = "repair", **values: object) -> Candidate | None:
        return self.one(self.ask_repair(template, perspective, seed=seed,
                                        temperature=temperature, parent=parent, origin=origin,
                                        **values))


def _top_p(temperature: float) -> float:
    return 0.95 if temperature > 0 else 1.0


def _defines(helper: str, name: str) -> bool:
    return re.match(rf"(?:async\s+)?def\s+{re.escape(name)}\s*\(", helper.lstrip()) is not None


_PLAN_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+(.*)")


def parse_plans(reply: str) -> list[str]:
    """Numbered (or bulleted) list items, each joined into one line."""
    plans: list[str] = []
    current: list[str] = []
    for line in reply.splitlines():
        m = _PLAN_ITEM.match(line)
        if m:
            if current:
                plans.append(" ".join(current))
            current = [m.group(1).strip()]
        elif current and line.strip() and not line.lstrip().startswith("```"):
            current.append(line.strip())
        elif current and not line.strip():
            plans.append(" ".join(current))
            current = []
    if current:
        plans.append(" ".join(current))
    cleaned = [re.sub(r"\*\*", "", p).strip() for p in plans]
    return [p for p in cleaned if len(p) > 12]


# A line this long is no readable test input: a small model writing one is filling a list.
MAX_CALL_LINE = 240


class EnoughCalls:
    """Ends the model's test calls once it has written `count` different ones, repeats a line
    (a greedy reply that repeats itself goes on repeating) or writes a line too long to read:
    each of these only costs time."""

    def __init__(self, name: str, count: int) -> None:
        self.name, self.count = name, count
        self._lines = 0

    def __call__(self, text: str) -> bool:
        done, _, partial = text.rpartition("\n")
        if len(partial) > MAX_CALL_LINE:
            return True
        lines = [line.strip() for line in done.splitlines() if line.strip()]
        if len(lines) == self._lines:
            return False
        self._lines = len(lines)
        if len(set(lines)) < len(lines):
            return True
        return len(parse_input_asserts(done, self.name)) >= self.count


def parse_input_asserts(reply: str, name: str) -> list[tuple[str, str | None]]:
    """`assert name(...) == y` lines -> (call, expected); a bare `name(...)` -> (call, None)."""
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for raw in reply.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "```")):
            continue
        try:
            node = ast.parse(line, mode="exec").body
        except SyntaxError:
            continue
        if len(node) != 1:
            continue
        stmt = node[0]
        call: ast.expr | None = None
        expected: ast.expr | None = None
        if isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Compare):
            cmp = stmt.test
            if len(cmp.ops) == 1 and isinstance(cmp.ops[0], (ast.Eq, ast.Is)):
                call, expected = cmp.left, cmp.comparators[0]
        elif isinstance(stmt, ast.Assert):
            call = stmt.test
            if isinstance(call, ast.UnaryOp) and isinstance(call.op, ast.Not):
                call, expected = call.operand, ast.Constant(False)
            else:
                expected = ast.Constant(True)
        elif isinstance(stmt, ast.Expr):
            call = stmt.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == name):
            continue
        call_src = ast.unparse(call)
        if call_src in seen:
            continue
        seen.add(call_src)
        out.append((call_src, ast.unparse(expected) if expected is not None else None))
    return out
