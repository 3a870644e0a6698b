"""Several sequences decoded together in one llama.cpp batch, on the model already loaded.

llama-cpp-python's high-level `Llama` decodes one sequence; its low-level bindings expose
llama.cpp's multi-sequence batches. On a CPU, decoding is bound by reading the weights, so
one step that reads them once for 4 sequences costs little more than a step for 1.

The prompts' common prefix is evaluated once, in sequence 0, and shared with the others
(a unified KV cache: the copy shares cells, it does not duplicate them); each sequence then
evaluates its own suffix and samples with its own sampler chain and seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0


# Called with each sampled (sequence index, token); returns True when that sequence stops
# (the token is then not decoded).
OnToken = Callable[[int, int], bool]

# One token of a batch: (token, position, sequence, whether its logits are wanted).
Row = tuple[int, int, int, bool]


class ParallelDecoder:
    """A second llama context on `model` with room for `n_seq` sequences.

    Not thread-safe: the engine's lock serialises it with the single-sequence path.
    """

    def __init__(self, llama_cpp: Any, model: Any, params: Any, *, n_seq: int) -> None:
        """`params`: the single-sequence context's parameters (threads, RoPE, cache size)."""
        self._l = llama_cpp
        self.n_seq = n_seq
        params = type(params).from_buffer_copy(params)
        params.n_seq_max = n_seq
        params.kv_unified = True  # sequences share the prompt's cells instead of copying them
        self.n_ctx = int(params.n_ctx)
        self.n_batch = int(params.n_batch)
        self._ctx = llama_cpp.llama_init_from_model(model, params)
        if not self._ctx:
            raise RuntimeError(f"llama.cpp could not create a context for {n_seq} sequences")
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._batch = llama_cpp.llama_batch_init(max(self.n_batch, n_seq), 0, n_seq)

    def close(self) -> None:
        if self._ctx:
            self._l.llama_batch_free(self._batch)
            self._l.llama_free(self._ctx)
            self._ctx = None

    # -- the batch -----------------------------------------------------------------------
    def _fill(self, items: Sequence[Row]) -> None:
        b = self._batch
        for i, (token, pos, seq, logits) in enumerate(items):
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits
        b.n_tokens = len(items)

    def _decode(self, items: Sequence[Row]) -> None:
        self._fill(items)
        rc = self._l.llama_decode(self._ctx, self._batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc} (context of {self.n_ctx} full?)")

    def _sampler(self, s: Sampling) -> Any:
        lib = self._l
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if s.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        # The same chain the single-sequence path asks llama-cpp-python for.
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(40))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(s.top_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(0.05, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(s.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(s.seed & 0xFFFFFFFF))
        return chain

    # -- decoding ------------------------------------------------------------------------
    def run(self, prompts: Sequence[Sequence[int]], sampling: Sequence[Sampling],
            on_token: OnToken) -> list[int]:
        """Decode every prompt until `on_token` stops it; return the prompt tokens evaluated
        per sequence (the shared prefix counts for sequence 0 only)."""
        n = len(prompts)
        if not 0 < n <= self.n_seq:
            raise ValueError(f"{n} sequences for a decoder of {self.n_seq}")
        lib = self._l
        mem = lib.llama_get_memory(self._ctx)
        lib.llama_memory_clear(mem, True)
        # Every sequence keeps at least one token of its own to take its logits from.
        common = min(common_prefix(prompts), min(len(p) for p in prompts) - 1)
        evaluated = [0] * n
        for start in range(0, common, self.n_batch):
            shared = prompts[0][start:min(common, start + self.n_batch)]
            self._decode([(t, start + j, 0, False) for j, t in enumerate(shared)])
        evaluated[0] += common
        for s in range(1, n):
            lib.llama_memory_seq_cp(mem, 0, s, -1, -1)
        # A decode keeps only its own logits: every sequence's last prompt token goes in the
        # last decode, whatever the prompts' own parts add up to.
        rows: list[Row] = [(p[pos], pos, s, False)
                           for s, p in enumerate(prompts) for pos in range(common, len(p) - 1)]
        rows += [(p[-1], len(p) - 1, s, True) for s, p in enumerate(prompts)]
        for s, p in enumerate(prompts):
            evaluated[s] += len(p) - common
        last = max(0, len(rows) - self.n_batch)  # the final decode: at most one batch
        for start in range(0, last, self.n_batch):
            self._decode(rows[start:min(last, start + self.n_batch)])
        final = rows[last:]
        self._decode(final)
        last_row = {row[2]: j for j, row in enumerate(final) if row[3]}
        samplers = [self._sampler(s) for s in sampling]
        try:
            pos = [len(p) for p in prompts]
            active = list(range(n))
            while active:
                step: list[Row] = []
                for s in active:
                    token = lib.llama_sampler_sample(samplers[s], self._ctx, last_row[s])
                    if not on_token(s, token):
                        step.append((token, pos[s], s, True))
                        pos[s] += 1
                if not step:
                    break
                self._decode(step)
                active = [row[2] for row in step]
                last_row = {row[2]: j for j, row in enumerate(step)}
        finally:
            for smpl in samplers:
                lib.llama_sampler_free(smpl)
        return evaluated

    def is_eog(self, token: int) -> bool:
        return bool(self._l.llama_vocab_is_eog(self._vocab, token))


def fits(prompts: Sequence[Sequence[int]], max_tokens: Sequence[int], n_ctx: int) -> bool:
    """Whether the prompts and their longest answers fit one shared cache of n_ctx cells."""
    common = common_prefix(prompts)
    own = sum(len(p) - common + m for p, m in zip(prompts, max_tokens, strict=True))
    return common + own <= n_ctx


def common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    first = prompts[0]
    n = min(len(p) for p in prompts)
    for i in range(n):
        t = first[i]
        if any(p[i] != t for p in prompts[1:]):
            return i
    return n
