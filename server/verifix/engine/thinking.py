"""Budget forcing for thinking models (`<think>…</think>` before the answer).

Small thinking models can think for thousands of tokens. We cap the thinking at a budget,
close the block ourselves and make the model answer; when it stops thinking before a minimum,
we append "Wait" so it keeps checking its work (the s1 recipe). Works on any Engine that can
continue a raw prompt, so the KV cache keeps the shared prefix between the phases.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifix.engine.base import CancelToken, Completion, Engine, Message, TokenCallback

OPEN, CLOSE = "<think>", "</think>"


def generate_with_thinking_budget(
    engine: Engine,
    messages: Sequence[Message],
    *,
    think_budget: int,
    max_tokens: int = 512,
    min_think: int = 0,
    max_waits: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] | None = None,
    cancel: CancelToken | None = None,
    on_token: TokenCallback | None = None,
) -> Completion:
    prefix = engine.format_chat(messages)
    parts: list[Completion] = []

    def run(prompt: str, budget: int, stops: Sequence[str] | None, emit: bool) -> Completion:
        c = engine.generate(
            prompt,
            max_tokens=max(budget, 1),
            stop=stops,
            on_token=on_token if emit else None,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            cancel=cancel,
        )
        parts.append(c)
        return c

    first = run(prefix, think_budget, [CLOSE], emit=False)
    head = first.text.lstrip()
    if not (head.startswith(OPEN) or prefix.rstrip().endswith(OPEN)):
        # Not thinking: this is already the answer; finish it within the answer budget.
        text = first.text
        if first.stopped_by == "length" and max_tokens > first.completion_tokens:
            rest = run(prefix + text, max_tokens - first.completion_tokens, stop, emit=True)
            text += rest.text
        return _combine(parts, text, thinking="")

    thinking = first.text
    used = first.completion_tokens
    waits = 0
    while (
        first.stopped_by == "stop"
        and used < min_think
        and waits < max_waits
        and used < think_budget
        and not (cancel and cancel.cancelled)
    ):
        thinking += "\nWait"
        waits += 1
        first = run(prefix + thinking, think_budget - used, [CLOSE], emit=False)
        thinking += first.text
        used += first.completion_tokens
    if cancel is not None and cancel.cancelled:
        return _combine(parts, "", thinking=_strip(thinking), stopped_by="cancel")
    # Forced (or natural) end of thinking, then the answer.
    answer = run(prefix + thinking.rstrip() + "\n" + CLOSE + "\n\n", max_tokens, stop, emit=True)
    return _combine(parts, answer.text, thinking=_strip(thinking), stopped_by=answer.stopped_by)


def _strip(thinking: str) -> str:
    return thinking.strip().removeprefix(OPEN).strip()


def _combine(
    parts: list[Completion], text: str, thinking: str, stopped_by: str | None = None
) -> Completion:
    return Completion(
        text=text,
        prompt_tokens=sum(p.prompt_tokens for p in parts),
        completion_tokens=sum(p.completion_tokens for p in parts),
        seconds=sum(p.seconds for p in parts),
        stopped_by=(stopped_by or parts[-1].stopped_by),  # type: ignore[arg-type]
        prompt_tokens_evaluated=sum(
            p.prompt_tokens if p.prompt_tokens_evaluated is None else p.prompt_tokens_evaluated
            for p in parts
        ),
        thinking=thinking,
    )
