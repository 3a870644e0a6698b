"""The resident local model: a GGUF file loaded once through llama-cpp-python."""

from __future__ import annotations

import codecs
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from verifix.engine.parallel import ParallelDecoder, Sampling, fits
from verifix.engine.thinking import CLOSE


def default_threads() -> int:
    n = os.cpu_count() or 1
    return n if n <= 4 else n // 2  # beyond 4 logical CPUs, assume SMT pairs


class LlamaCppEngine:
    """One model, loaded once, kept for the life of the process.

    Calls are serialised by a lock (one llama context cannot serve two at once). Consecutive
    calls whose prompts share a prefix reuse the KV cache for that prefix (llama-cpp-python's
    prefix match), so k candidates of one task pay for their shared spec once.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = 8192,
        n_threads: int = 0,
        n_gpu_layers: int = -1,
        seed: int = 0,
        name: str | None = None,
        parallel: int = 4,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EngineError(
                f"llama-cpp-python is not importable ({exc}): pip install verifix"
            ) from None
        self._llama_cpp = llama_cpp
        self.name = name or Path(model_path).name
        self.model_path = Path(model_path)
        self.n_threads = n_threads or default_threads()
        self.seed = seed
        self.stats = EngineStats()
        self.parallel = max(1, parallel)
        self._decoder: ParallelDecoder | None = None  # made on first use
        self._lock = threading.Lock()
        start = time.perf_counter()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_gpu_layers=n_gpu_layers,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(f"llama.cpp could not load {model_path}: {exc}") from None
        self.load_seconds = time.perf_counter() - start
        self.n_ctx = self._llm.n_ctx()
        template = self._llm.metadata.get("tokenizer.chat_template") or ""
        # Thinking templates all mention the closing tag (R1 distills strip up to it from
        # history without ever spelling the opening one).
        self.thinks = CLOSE in template
        self._formatter = self._make_formatter(template) if template else None
        # Count the prompt tokens llama.cpp really evaluates (the first eval of each call).
        self._pending_prompt_eval = False
        self._last_prompt_eval = 0
        original_eval = self._llm.eval

        def counting_eval(tokens: Sequence[int]) -> None:
            if self._pending_prompt_eval:
                self._last_prompt_eval = len(tokens)
                self._pending_prompt_eval = False
            original_eval(tokens)

        self._llm.eval = counting_eval  # type: ignore[method-assign]

    # -- chat template -------------------------------------------------------------------
    def _make_formatter(self, template: str) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = self._llm.metadata

        def token_text(key: str) -> str:
            raw = meta.get(key)
            if raw is None:
                return ""
            return self._llm.detokenize([int(raw)], special=True).decode("utf-8", "ignore")

        return Jinja2ChatFormatter(
            template=template,
            eos_token=token_text("tokenizer.ggml.eos_token_id"),
            bos_token=token_text("tokenizer.ggml.bos_token_id"),
        )

    def format_chat(self, messages: Sequence[Message]) -> str:
        if self._formatter is None:  # no template in the GGUF: a plain ChatML rendering
            body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            return body + "<|im_start|>assistant\n"
        return str(self._formatter(messages=list(messages)).prompt)

    def tokenize(self, text: str) -> list[int]:
        add_bos = self._formatter is None and bool(
            self._llm.metadata.get("tokenizer.ggml.add_bos_token") == "true"
        )
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    # -- generation ----------------------------------------------------------------------
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
        text = prompt if isinstance(prompt, str) else self.format_chat(prompt)
        with self._lock:
            return self._generate_locked(
                text, max_tokens, temperature, top_p, seed, stop, cancel, on_token
            )

    def _generate_locked(
        self,
        text: str,
        max_tokens: int,
        temperature: float,
        top_p: float,
        seed: int | None,
        stop: Sequence[Stop] | None,
        cancel: CancelToken | None,
        on_token: TokenCallback | None,
    ) -> Completion:
        llm = self._llm
        start = time.perf_counter()
        tokens = self.tokenize(text)
        if len(tokens) >= self.n_ctx:
            raise EngineError(
                f"prompt of {len(tokens)} tokens does not fit the context of {self.n_ctx} "
                "(raise contextSize)"
            )
        max_tokens = min(max_tokens, self.n_ctx - len(tokens))
        llm.set_seed(self.seed if seed is None else seed)
        scanner = StopScanner(stop)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stopped_by = "length"
        produced = 0
        self._pending_prompt_eval = True
        self._last_prompt_eval = 0
        if cancel is not None and cancel.cancelled:
            return self._finish(text, tokens, start, "", 0, "cancel", evaluated=0)
        generator = llm.generate(
            tokens,
            temp=max(temperature, 0.0),
            top_p=top_p,
            top_k=40 if temperature > 0 else 1,
            min_p=0.05 if temperature > 0 else 0.0,
            repeat_penalty=1.0,
        )
        try:
            for token in generator:
                if self._llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                    stopped_by = "eos"
                    break
                produced += 1
                piece = decoder.decode(llm.detokenize([token]))
                out, hit = scanner.feed(piece)
                if out and on_token is not None:
                    on_token(out)
                if hit:
                    stopped_by = "stop"
                    break
                # Checked between tokens: a cancel costs at most the token being decoded.
                if cancel is not None and cancel.cancelled:
                    stopped_by = "cancel"
                    break
                if produced >= max_tokens:
                    stopped_by = "length"
                    break
        except RuntimeError as exc:
            raise EngineError(f"llama.cpp failed while generating: {exc}") from None
        finally:
            generator.close()
        if stopped_by != "stop":
            tail = scanner.feed(decoder.decode(b"", final=True))[0] + scanner.flush()
            if tail and on_token is not None and stopped_by != "cancel":
                on_token(tail)
        return self._finish(
            text,
            tokens,
            start,
            scanner.text,
            produced,
            stopped_by,
            evaluated=self._last_prompt_eval,
        )

    def generate_many(self, samples: Sequence[Sample], *,
                      cancel: CancelToken | None = None) -> list[Completion]:
        out: list[Completion] = []
        for i in range(0, len(samples), self.parallel):
            wave = samples[i:i + self.parallel]
            if len(wave) == 1:
                out += generate_each(self, wave, cancel)
                continue
            with self._lock:
                out += self._generate_wave_locked(wave, cancel)
        return out

    def _generate_wave_locked(self, wave: Sequence[Sample],
                              cancel: CancelToken | None) -> list[Completion]:
        start = time.perf_counter()
        texts = [s.prompt if isinstance(s.prompt, str) else self.format_chat(s.prompt)
                 for s in wave]
        prompts = [self.tokenize(t) for t in texts]
        limits = [min(s.max_tokens, self.n_ctx - len(p))
                  for s, p in zip(wave, prompts, strict=True)]
        if self._decoder is None:
            self._decoder = ParallelDecoder(self._llama_cpp, self._llm._model.model,
                                            self._llm.context_params, n_seq=self.parallel)
        decoder = self._decoder
        if not fits(prompts, limits, decoder.n_ctx):  # too long to share one cache
            return [self._generate_locked(t, s.max_tokens, s.temperature, s.top_p, s.seed,
                                          s.stop, cancel, None)
                    for t, s in zip(texts, wave, strict=True)]
        n = len(wave)
        scanners = [StopScanner(s.stop) for s in wave]
        decoders = [codecs.getincrementaldecoder("utf-8")(errors="replace") for _ in wave]
        produced = [0] * n
        stopped_by = ["length"] * n
        if cancel is not None and cancel.cancelled:
            stopped_by = ["cancel"] * n
            evaluated = [0] * n
        else:
            def on_token(s: int, token: int) -> bool:
                if decoder.is_eog(token):
                    stopped_by[s] = "eos"
                    return True
                produced[s] += 1
                if scanners[s].feed(decoders[s].decode(self._llm.detokenize([token])))[1]:
                    stopped_by[s] = "stop"
                    return True
                if cancel is not None and cancel.cancelled:
                    stopped_by[s] = "cancel"
                    return True
                return produced[s] >= limits[s]

            sampling = [Sampling(s.temperature, s.top_p,
                                 self.seed if s.seed is None else s.seed) for s in wave]
            try:
                evaluated = decoder.run(prompts, sampling, on_token)
            except RuntimeError as exc:
                raise EngineError(f"llama.cpp failed while generating: {exc}") from None
        share = (time.perf_counter() - start) / n
        completions = []
        for s in range(n):
            if stopped_by[s] != "stop":
                scanners[s].feed(decoders[s].decode(b"", final=True))
                scanners[s].flush()
            completion = Completion(text=scanners[s].text, prompt_tokens=len(prompts[s]),
                                    completion_tokens=produced[s], seconds=share,
                                    stopped_by=stopped_by[s],  # type: ignore[arg-type]
                                    prompt_tokens_evaluated=evaluated[s])
            self.stats.add(completion)
            completions.append(completion)
        return completions

    def _finish(
        self,
        text: str,
        tokens: list[int],
        start: float,
        out: str,
        produced: int,
        stopped_by: str,
        evaluated: int,
    ) -> Completion:
        completion = Completion(
            text=out,
            prompt_tokens=len(tokens),
            completion_tokens=produced,
            seconds=time.perf_counter() - start,
            stopped_by=stopped_by,  # type: ignore[arg-type]
            prompt_tokens_evaluated=evaluated,
        )
        self.stats.add(completion)
        return completion

    # -- facts for `verifix doctor` ------------------------------------------------------
    def build_info(self) -> dict[str, Any]:
        lc = self._llama_cpp
        return {
            "llama_cpp_python": lc.__version__,
            "gpu_offload": bool(lc.llama_supports_gpu_offload()),
            "system_info": lc.llama_print_system_info().decode("utf-8", "ignore").strip(),
            "threads": self.n_threads,
            "n_ctx": self.n_ctx,
        }

    def forget(self) -> None:
        # A prompt that reuses a prefix another prompt left in the KV cache is evaluated in
        # other batches than on its own, and the float differences flip some greedy tokens.
        with self._lock:
            if self._llm is not None:
                self._llm.reset()

    def close(self) -> None:
        with self._lock:
            if getattr(self, "_decoder", None) is not None:
                self._decoder.close()  # type: ignore[union-attr]
                self._decoder = None
            llm = getattr(self, "_llm", None)
            if llm is not None:
                llm.close()
                self._llm = None  # type: ignore[assignment]
