"""Deterministic replies for fast tests of the logic above the engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from verifix.engine.base import (
    CancelToken,
    Completion,
    EngineError,
    EngineStats,
    Message,
    Prompt,
    Sample,
    Stop,
    StopScanner,
    TokenCallback,
    generate_each,
)

# A reply is a fixed text, or a function of the prompt text (for replies that depend on it).
Reply = str | Callable[[str], str]


class ScriptedEngine:
    """Replays canned completions in order (or chosen by a function of the prompt).

    Tokens are whitespace-separated words, so cancellation and streaming behave like a
    real engine, one "token" at a time. `delay_s` slows each token for cancellation tests.
    """

    name = "scripted"

    def __init__(
        self,
        replies: Sequence[Reply] | Callable[[str], str] = (),
        *,
        delay_s: float = 0.0,
        repeat_last: bool = False,
        thinks: bool = False,
        parallel: int = 1,
    ) -> None:
        self._responder = replies if callable(replies) else None
        self._replies = [] if callable(replies) else list(replies)
        self.delay_s = delay_s
        self.repeat_last = repeat_last
        self.thinks = thinks
        self.parallel = parallel
        self.waves: list[int] = []  # the size of each generate_many call, for tests
        self.prompts: list[str] = []
        self.stats = EngineStats()
        self._lock = threading.Lock()

    def format_chat(self, messages: Sequence[Message]) -> str:
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"

    def _next_reply(self, prompt_text: str) -> str:
        if self._responder is not None:
            return self._responder(prompt_text)
        if not self._replies:
            raise EngineError("scripted engine has no reply left")
        reply = self._replies[0] if (self.repeat_last and len(self._replies) == 1) else None
        if reply is None:
            reply = self._replies.pop(0)
        return reply(prompt_text) if callable(reply) else reply

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
    ) -> Completion:
        prompt_text = prompt if isinstance(prompt, str) else self.format_chat(prompt)
        with self._lock:
            start = time.perf_counter()
            self.prompts.append(prompt_text)
            reply = self._next_reply(prompt_text)
            pieces = _split_tokens(reply)
            scanner = StopScanner(stop)
            stopped_by = "eos"
            produced = 0
            for piece in pieces:
                if cancel is not None and cancel.cancelled:
                    stopped_by = "cancel"
                    break
                if produced >= max_tokens:
                    stopped_by = "length"
                    break
                if self.delay_s:
                    time.sleep(self.delay_s)
                produced += 1
                out, hit = scanner.feed(piece)
                if out and on_token:
                    on_token(out)
                if hit:
                    stopped_by = "stop"
                    break
            else:
                tail = scanner.flush()
                if tail and on_token:
                    on_token(tail)
            if stopped_by != "stop":
                scanner.flush()
            completion = Completion(
                text=scanner.text,
                prompt_tokens=len(_split_tokens(prompt_text)),
                completion_tokens=produced,
                seconds=time.perf_counter() - start,
                stopped_by=stopped_by,  # type: ignore[arg-type]
            )
            self.stats.add(completion)
            return completion

    def generate_many(self, samples: Sequence[Sample], *,
                      cancel: CancelToken | None = None) -> list[Completion]:
        self.waves.append(len(samples))
        return generate_each(self, samples, cancel)

    def forget(self) -> None:
        pass  # no state carries over between calls

    def close(self) -> None:
        pass


def _split_tokens(text: str) -> list[str]:
    """Split into word-ish tokens that concatenate back to `text` exactly."""
    tokens: list[str] = []
    current = ""
    for ch in text:
        if ch.isspace() and current and not current.isspace():
            tokens.append(current)
            current = ch
        else:
            current += ch
    if current:
        tokens.append(current)
    return tokens
