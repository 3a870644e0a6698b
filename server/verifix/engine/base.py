"""The Engine protocol every model backend implements, and the types it speaks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypedDict, runtime_checkable

from verifix.cancel import CancelToken  # noqa: F401  (re-exported)


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


# A prompt is either chat messages (formatted with the model's own chat template)
# or raw text that is sent to the model as is (used to continue a formatted prompt).
Prompt = str | Sequence[Message]

StoppedBy = Literal["eos", "stop", "length", "cancel"]
# Where a reply ends early: a string, or a test of the text so far that says it is enough
# (the reply then ends after its last complete line).
Stop = str | Callable[[str], bool]


class EngineError(RuntimeError):
    """A model backend failed; the message is one line a user can act on."""


@dataclass
class Completion:
    text: str
    prompt_tokens: int  # tokens in the prompt (not only those evaluated)
    completion_tokens: int
    seconds: float
    stopped_by: StoppedBy
    # Prompt tokens the backend really had to evaluate (the rest came from its cache).
    prompt_tokens_evaluated: int | None = None
    # The <think> part of a thinking model's answer (kept out of `text`).
    thinking: str = ""


@dataclass
class EngineStats:
    """Running counters of an engine instance (tests and benchmarks read these)."""

    calls: int = 0
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def add(self, completion: Completion) -> None:
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.prompt_tokens_evaluated += (
            completion.prompt_tokens
            if completion.prompt_tokens_evaluated is None
            else completion.prompt_tokens_evaluated
        )
        self.completion_tokens += completion.completion_tokens
        self.seconds += completion.seconds


TokenCallback = Callable[[str], None]


@dataclass(frozen=True)
class Sample:
    """One of several answers asked for together (`Engine.generate_many`)."""

    prompt: Prompt
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    max_tokens: int = 512
    stop: tuple[Stop, ...] = ()


def generate_each(engine: Engine, samples: Sequence[Sample],
                  cancel: CancelToken | None = None) -> list[Completion]:
    """`generate_many` for a backend that decodes one answer at a time."""
    return [engine.generate(s.prompt, max_tokens=s.max_tokens, temperature=s.temperature,
                            top_p=s.top_p, seed=s.seed, stop=s.stop, cancel=cancel)
            for s in samples]


@runtime_checkable
class Engine(Protocol):
    """A resident model. Implementations serialise concurrent calls."""

    name: str
    stats: EngineStats
    # The model's chat template has a thinking block (<think>…</think>) before the answer.
    thinks: bool
    # How many answers `generate_many` decodes at once (1: one after another).
    parallel: int

    def generate(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[Stop] | None = None,
        cancel: CancelToken | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion: ...

    def generate_many(self, samples: Sequence[Sample], *,
                      cancel: CancelToken | None = None) -> list[Completion]:
        """Answers to `samples`, in order, decoded together where the backend can: each is the
        answer its seed gives in this company (batched arithmetic differs in the last bits
        from one sequence alone, so an answer need not equal `generate`'s token for token).
        Each completion's `seconds` is its share of the wall time."""
        ...

    def format_chat(self, messages: Sequence[Message]) -> str:
        """The raw prompt text the engine would send for `messages` (for continuations)."""
        ...

    def forget(self) -> None:
        """Drop prompt state kept from earlier calls, so that the next job's answers do not
        depend on what ran before it (a rerun, a --resume or another task order reproduce it)."""
        ...

    def close(self) -> None: ...


class StopScanner:
    """Finds stop strings in streamed text without emitting text that may start one, and ends
    it after its last complete line once a test of the text so far says it is enough (so the
    unfinished line is held back until it ends)."""

    def __init__(self, stop: Sequence[Stop] | None) -> None:
        self.stop = [s for s in (stop or []) if isinstance(s, str) and s]
        self.enough = [s for s in (stop or []) if callable(s)]
        self.text = ""
        self._emitted = 0

    def feed(self, piece: str) -> tuple[str, bool]:
        """Add `piece`; return (text safe to emit now, whether a stop string was hit)."""
        self.text += piece
        for s in self.stop:
            idx = self.text.find(s, max(0, self._emitted - len(s)))
            if idx != -1:
                self.text = self.text[:idx]
                out = self.text[self._emitted :]
                self._emitted = len(self.text)
                return out, True
        line_end = self.text.rfind("\n") + 1
        if any(test(self.text) for test in self.enough):
            self.text = self.text[:line_end]
            out = self.text[self._emitted:]
            self._emitted = len(self.text)
            return out, True
        # Hold back a tail that could still grow into a stop string (or an unfinished line).
        hold = len(self.text) - line_end if self.enough else 0
        for s in self.stop:
            for n in range(min(len(s) - 1, len(self.text)), 0, -1):
                if self.text.endswith(s[:n]):
                    hold = max(hold, n)
                    break
        safe_end = len(self.text) - hold
        out = self.text[self._emitted : safe_end] if safe_end > self._emitted else ""
        self._emitted = max(self._emitted, safe_end)
        return out, False

    def flush(self) -> str:
        out = self.text[self._emitted :]
        self._emitted = len(self.text)
        return out
