"""LlamaCppEngine on the real embedded model (Qwen2.5-Coder-0.5B, CPU)."""

from __future__ import annotations

import threading

from verifix.cancel import CancelToken

ASK = [{"role": "user", "content": "Write a Python function is_even(n). Only code."}]


def test_chat_template_comes_from_the_gguf(real_engine):
    text = real_engine.format_chat(ASK)
    assert "<|im_start|>user\nWrite a Python function is_even(n)" in text
    assert text.endswith("<|im_start|>assistant\n")
    assert real_engine.thinks is False  # Qwen2.5-Coder's template has no <think> block


def test_greedy_and_seeded_sampling_are_deterministic(real_engine):
    a = real_engine.generate(ASK, max_tokens=40)
    b = real_engine.generate(ASK, max_tokens=40)
    assert a.text == b.text and a.completion_tokens > 5
    c = real_engine.generate(ASK, max_tokens=40, temperature=1.0, seed=7)
    d = real_engine.generate(ASK, max_tokens=40, temperature=1.0, seed=7)
    assert c.text == d.text
    others = {
        real_engine.generate(ASK, max_tokens=40, temperature=1.0, seed=s).text for s in (1, 2, 3)
    }
    assert len(others | {c.text}) > 1  # the seed really changes the sample


def test_cancel_from_another_thread_stops_within_one_token(real_engine):
    cancel = CancelToken()
    produced = {"n": 0, "at_cancel": None}
    reached = threading.Event()

    def canceller() -> None:
        reached.wait(30)
        produced["at_cancel"] = produced["n"]
        cancel.cancel()

    t = threading.Thread(target=canceller)
    t.start()

    def on_token(_: str) -> None:
        produced["n"] += 1
        if produced["n"] == 5:
            reached.set()

    long_ask = [{"role": "user", "content": "Explain Python generators in 500 words."}]
    c = real_engine.generate(long_ask, max_tokens=400, cancel=cancel, on_token=on_token)
    t.join()
    assert c.stopped_by == "cancel"
    assert c.completion_tokens <= produced["at_cancel"] + 1
    assert c.completion_tokens < 50


def test_shared_prefix_is_evaluated_once(real_engine):
    spec = "def f(xs):\n    " + "\n    ".join(
        f"# rule {i}: keep item {i} if even" for i in range(60)
    )
    first = [{"role": "user", "content": spec + "\n\nApproach: use a loop."}]
    second = [{"role": "user", "content": spec + "\n\nApproach: use a comprehension."}]
    real_engine.generate([{"role": "user", "content": "unrelated"}], max_tokens=2)
    a = real_engine.generate(first, max_tokens=4)
    b = real_engine.generate(second, max_tokens=4)
    assert a.prompt_tokens > 500
    assert a.prompt_tokens_evaluated >= a.prompt_tokens - 40  # cold: almost all of it
    assert b.prompt_tokens_evaluated < 0.1 * b.prompt_tokens  # warm: only the new suffix


def test_concurrent_calls_are_serialised_not_corrupted(real_engine):
    # Raw prompts with no common first token: each call starts from a cold cache, so its
    # greedy output does not depend on which call ran before (llama.cpp's numerics vary
    # slightly with how a prompt is split between cache and new batch).
    prompts = ["def reverse_string(s):\n", "# Sum a list of numbers\ndef total(xs):\n"]
    expected = [real_engine.generate(p, max_tokens=40).text for p in prompts]
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        text = real_engine.generate(prompts[i], max_tokens=40).text
        with lock:
            results.append((i, text))

    threads = [threading.Thread(target=run, args=(i % 2,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for i, text in results:
        assert text == expected[i]


def test_stop_strings_and_length(real_engine):
    c = real_engine.generate(ASK, max_tokens=200, stop=["```\n\n", "def "])
    assert c.stopped_by == "stop" and "def " not in c.text
    c = real_engine.generate(ASK, max_tokens=3)
    assert c.stopped_by == "length" and c.completion_tokens == 3


def test_forget_makes_an_answer_independent_of_earlier_calls(real_engine):
    # HumanEval/4's greedy probe, alone and after another task's call: without forget() the
    # second one reuses a KV prefix computed in other batches, and on this machine a float
    # difference flips a greedy token in the middle of the function.
    from verifix.bench.humaneval import load_problems, task_for
    from verifix.pipeline.candidates import Generator

    problems = load_problems()

    def probe() -> str:
        gen = Generator(real_engine, task_for(problems["HumanEval/4"]), max_tokens=768, seed=0,
                        cancel=None)
        cand = gen.code(temperature=0.0, seed=0, origin="greedy")
        return cand.function_code if cand else ""

    real_engine.forget()
    alone = probe()
    Generator(real_engine, task_for(problems["HumanEval/3"]), max_tokens=100, seed=0,
              cancel=None).inputs(8, seed=7)
    real_engine.forget()
    assert probe() == alone and "def mean_absolute_deviation" in alone


def _ask(what: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Write a Python function that {what}. Only code."}]


def test_a_wave_answers_each_prompt_in_order_and_reproducibly(real_engine):
    from verifix.engine.base import Sample

    wave = [Sample(_ask("reverses a string"), 0.0, 1.0, 1, 80),
            Sample(_ask("reverses a string"), 0.8, 0.95, 2, 80),
            Sample(_ask("adds two numbers"), 0.8, 0.95, 3, 60),
            Sample(_ask("checks for a palindrome"), 0.0, 1.0, 4, 5)]
    first = real_engine.generate_many(wave)
    again = real_engine.generate_many(wave)
    assert [c.text for c in first] == [c.text for c in again]
    assert "[::-1]" in first[0].text and first[0].stopped_by == "eos"
    assert "+" in first[2].text
    assert first[3].stopped_by == "length" and first[3].completion_tokens == 5
    # The shared system + user prefix is evaluated once, for the first sequence only.
    assert first[0].prompt_tokens_evaluated == first[0].prompt_tokens
    assert all(c.prompt_tokens_evaluated < c.prompt_tokens for c in first[1:])
    # Another seed in the same company gives another sample.
    other = real_engine.generate_many([wave[0], Sample(*_fields(wave[1], seed=9))])
    assert other[0].text == first[0].text and other[1].text != first[1].text


def _fields(s, **changes):
    from dataclasses import astuple, replace

    return astuple(replace(s, **changes))


def test_a_wave_stops_on_its_stop_strings_and_on_cancel(real_engine):
    from verifix.engine.base import Sample

    wave = [Sample(ASK, max_tokens=200, stop=("def ",)), Sample(ASK, 0.8, 0.95, 5, 200)]
    stopped, free = real_engine.generate_many(wave)
    assert stopped.stopped_by == "stop" and "def " not in stopped.text
    assert "def is_even" in free.text
    cancel = CancelToken()
    cancel.cancel()
    assert {c.stopped_by for c in real_engine.generate_many(wave, cancel=cancel)} == {"cancel"}


def test_a_wave_of_prompts_whose_own_parts_fill_more_than_a_batch(real_engine):
    # Two prompts that share little: their own tokens take several decodes, and each must
    # still sample from its own last prompt token (llama.cpp keeps one decode's logits).
    from verifix.engine.base import Sample
    from verifix.engine.parallel import common_prefix

    words = " ".join(f"w{i}" for i in range(300))
    wave = [Sample([{"role": "user", "content": f"Reply with one word: {fruit}. Ignore the "
                     f"words that follow.\n{words}\nNow reply with one word: {fruit}"}],
                   0.0, 1.0, seed, 6)
            for seed, fruit in ((1, "APPLE"), (2, "BANANA"))]
    prompts = [real_engine.tokenize(real_engine.format_chat(w.prompt)) for w in wave]
    own = sum(len(p) - common_prefix(prompts) for p in prompts)
    assert own > 512  # more than one batch (llama-cpp-python's n_batch): the case under test
    apple, banana = real_engine.generate_many(wave)
    assert "APPLE" in apple.text.upper() and "BANANA" in banana.text.upper(), (apple, banana)
