"""Budget forcing for thinking models (`<think>…</think>` before the answer).

Small thinking models can think for thousands of tokens. We cap the thinking at a budget, close
the block ourselves and make the model answer after it. Each phase continues the raw prompt of
the one before, so the engine's KV cache keeps the shared prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifix.engine.base import CancelToken, Completion, Engine, Message, Stop, StoppedBy

OPEN, CLOSE = "<think>", "</think>"
_PEEK = 8  # tokens enough to see whether a reply opens a thinking block


def generate_with_thinking_budget(
    engine: Engine,
    messages: Sequence[Message],
    *,
    think_budget: int,
    max_tokens: int = 512,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[Stop] | None = None,
    cancel: CancelToken | None = None,
) -> Completion:
    """The answer after at most `think_budget` tokens of thinking (returned in `.thinking`).

    `max_tokens` and `stop` apply to the answer only: thinking often holds code fences.
    """
    prefix = engine.format_chat(messages)
    parts: list[Completion] = []

    def run(prompt: str, tokens: int, stops: Sequence[Stop] | None) -> Completion:
        parts.append(engine.generate(prompt, max_tokens=tokens, stop=stops, cancel=cancel,
                                     temperature=temperature, top_p=top_p, seed=seed))
        return parts[-1]

    thinking, ended = "", "length"
    if not prefix.rstrip().endswith(OPEN):  # the template leaves opening the block to the model
        peek = run(prefix, min(_PEEK, think_budget), [CLOSE])
        if peek.stopped_by != "cancel" and not peek.text.lstrip().startswith(OPEN):
            # Not thinking: answer just as a plain call would (its prompt is in the cache).
            answer = run(prefix, max_tokens, stop)
            return _combine(parts, answer.text, "", answer.stopped_by)
        thinking, ended = peek.text, peek.stopped_by
    used = sum(p.completion_tokens for p in parts)
    if ended == "length" and used < think_budget:
        more = run(prefix + thinking, think_budget - used, [CLOSE])
        thinking, ended = thinking + more.text, more.stopped_by
    if ended == "cancel":
        return _combine(parts, "", _strip(thinking), "cancel")
    # A block the model closed goes on as it wrote it; one cut at the budget ends on a new line.
    closed = thinking + CLOSE if ended == "stop" else thinking.rstrip() + "\n" + CLOSE
    answer = run(prefix + closed + "\n\n", max_tokens, stop)
    return _combine(parts, answer.text, _strip(thinking), answer.stopped_by)


def _strip(thinking: str) -> str:
    return thinking.strip().removeprefix(OPEN).strip()


def _combine(parts: list[Completion], text: str, thinking: str,
             stopped_by: StoppedBy) -> Completion:
    """One Completion for the exchange: the first prompt, and every token generated."""
    return Completion(
        text=text,
        prompt_tokens=parts[0].prompt_tokens,
        completion_tokens=sum(p.completion_tokens for p in parts),
        seconds=sum(p.seconds for p in parts),
        stopped_by=stopped_by,
        prompt_tokens_evaluated=sum(
            p.prompt_tokens if p.prompt_tokens_evaluated is None else p.prompt_tokens_evaluated
            for p in parts
        ),
        thinking=thinking,
    )
