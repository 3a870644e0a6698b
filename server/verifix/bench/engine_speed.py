"""`verifix bench engine`: the engine's overhead and its prompt-cache reuse, measured.

1. Tokens/s of LlamaCppEngine against raw llama-cpp-python on the same model file, threads
   and prompt, alternating in one run (the machine is noisy: compare within the run).
2. Prompt tokens evaluated for k=4 candidates of one task that share a ~600-token prefix.
3. Aggregate tokens/s with 1, 2 and 4 samples of one prompt decoded together
   (`generate_many`), against raw llama-cpp-python decoding one.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from verifix import models
from verifix.config import Settings
from verifix.engine.base import Message, Sample
from verifix.engine.llama import LlamaCppEngine

WAVES = (1, 2, 4)
ASK = "Write a Python module with five small utility functions for strings, with docstrings."


def _shared_prefix_messages(suffixes: list[str]) -> list[list[Message]]:
    spec_lines = [
        f"    - rule {i}: an item {i} is kept when its score is above {i % 7}" for i in range(28)
    ]
    spec = 'def select(items):\n    """Select items.\n\n' + "\n".join(spec_lines) + '\n    """\n'
    return [[Message(role="user", content=f"{spec}\nImplement it. {s}")] for s in suffixes]


def run_engine_bench(settings: Settings, tokens: int = 128, repeats: int = 3) -> dict[str, Any]:
    import llama_cpp

    resolved = models.resolve(settings.model)
    engine = LlamaCppEngine(
        resolved.path,
        n_ctx=4096,
        n_threads=settings.threads,
        n_gpu_layers=settings.gpuLayers,
        seed=0,
        name=resolved.name,
    )
    raw = llama_cpp.Llama(
        model_path=str(resolved.path),
        n_ctx=4096,
        n_threads=engine.n_threads,
        n_threads_batch=engine.n_threads,
        n_gpu_layers=settings.gpuLayers,
        seed=0,
        verbose=False,
    )
    prompt = engine.format_chat([{"role": "user", "content": ASK}])
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = raw.create_completion(prompt, max_tokens=tokens, temperature=0.0, top_k=1)
        assert isinstance(out, dict)  # not streamed
        theirs.append(out["usage"]["completion_tokens"] / (time.perf_counter() - start))
        start = time.perf_counter()
        c = engine.generate(prompt, max_tokens=tokens, temperature=0.0)
        ours.append(c.completion_tokens / (time.perf_counter() - start))
    raw.close()

    waves: dict[int, list[float]] = {n: [] for n in WAVES}
    for _ in range(repeats):
        for n in WAVES:
            start = time.perf_counter()
            done = engine.generate_many([Sample(prompt, 0.8, 0.95, seed, tokens)
                                         for seed in range(1, n + 1)])
            waves[n].append(sum(c.completion_tokens for c in done)
                            / (time.perf_counter() - start))

    suffixes = [
        "Approach: a loop.",
        "Approach: a comprehension.",
        "Approach: filter().",
        "Approach: sort first, then scan.",
    ]
    calls = _shared_prefix_messages(suffixes)
    engine.generate("unrelated warm-up", max_tokens=1)  # start from a cache without the prefix
    prefix_tokens = len(engine.tokenize(engine.format_chat(calls[0]))) - len(
        engine.tokenize(f" {suffixes[0]}")
    )
    evaluated = [
        engine.generate(m, max_tokens=32, temperature=0.8, seed=i).prompt_tokens_evaluated
        for i, m in enumerate(calls)
    ]
    engine.close()

    ratio = statistics.median(ours) / statistics.median(theirs)
    reuse = sum(e or 0 for e in evaluated) / prefix_tokens
    result: dict[str, Any] = {
        "model": resolved.name,
        "threads": engine.n_threads,
        "tokens": tokens,
        "repeats": repeats,
        "engine_tokens_per_s": [round(x, 1) for x in ours],
        "raw_tokens_per_s": [round(x, 1) for x in theirs],
        "speed_ratio": round(ratio, 3),
        "shared_prefix_tokens": prefix_tokens,
        "prompt_tokens_evaluated_k4": evaluated,
        "evaluated_over_prefix": round(reuse, 3),
        "parallel_tokens_per_s": {str(n): [round(x, 1) for x in v] for n, v in waves.items()},
    }
    one = statistics.median(waves[1])
    result["markdown"] = "\n".join(
        [
            f"engine benchmark: {resolved.name}, {engine.n_threads} threads, "
            f"{tokens} tokens x {repeats}",
            "",
            "| measure | verifix engine | raw llama-cpp-python | ratio | goal |",
            "|---|---|---|---|---|",
            f"| tokens/s (median) | {statistics.median(ours):.1f} "
            f"| {statistics.median(theirs):.1f} | {ratio:.1%} | >= 95% |",
            f"| prompt tokens evaluated, k=4, {prefix_tokens}-token shared prefix "
            f"| {sum(e or 0 for e in evaluated)} ({'+'.join(str(e) for e in evaluated)}) | "
            f"{4 * prefix_tokens}+ without reuse | {reuse:.2f}x the prefix | <= 1.3x |",
            "",
            "| sequences decoded together | aggregate tokens/s (median) | vs 1 sequence "
            "| vs raw llama-cpp-python (1) |",
            "|---|---|---|---|",
            *(f"| {n} | {statistics.median(v):.1f} | {statistics.median(v) / one:.2f}x "
              f"| {statistics.median(v) / statistics.median(theirs):.2f}x |"
              for n, v in waves.items()),
        ]
    )
    return result
