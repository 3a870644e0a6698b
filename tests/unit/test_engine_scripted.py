"""The engine contract, checked on the ScriptedEngine, plus stop strings and budget forcing."""

from __future__ import annotations

import threading

from verifix.cancel import CancelToken
from verifix.engine import Engine, ScriptedEngine
from verifix.engine.base import StopScanner
from verifix.engine.thinking import generate_with_thinking_budget


def test_scripted_engine_satisfies_the_protocol_and_streams():
    engine = ScriptedEngine(["def f(x):\n    return x + 1\n"])
    assert isinstance(engine, Engine)
    seen: list[str] = []
    c = engine.generate([{"role": "user", "content": "hi"}], on_token=seen.append)
    assert c.text == "def f(x):\n    return x + 1\n" == "".join(seen)
    assert c.stopped_by == "eos" and c.completion_tokens == len(seen) > 1
    assert engine.stats.calls == 1 and engine.stats.completion_tokens == c.completion_tokens


def test_max_tokens_and_stop_strings():
    engine = ScriptedEngine(["one two three four five", "alpha beta STOP gamma"])
    c = engine.generate("p", max_tokens=2)
    assert (c.text, c.stopped_by) == ("one two", "length")
    seen: list[str] = []
    c = engine.generate("p", stop=["STOP"], on_token=seen.append)
    assert (c.text, c.stopped_by) == ("alpha beta ", "stop")
    assert "STOP" not in "".join(seen)


def test_stop_scanner_holds_back_a_partial_stop_string():
    s = StopScanner(["```"])
    assert s.feed("code `") == ("code ", False)
    assert s.feed("`") == ("", False)
    assert s.feed("` tail") == ("", True)
    assert s.text == "code "


def test_cancel_from_another_thread_stops_within_one_token():
    engine = ScriptedEngine([" ".join(f"w{i}" for i in range(200))], delay_s=0.005)
    cancel = CancelToken()
    count = {"at_cancel": 0, "n": 0}

    def on_token(_: str) -> None:
        count["n"] += 1
        if count["n"] == 10:
            threading.Thread(target=cancel.cancel).start()

    c = engine.generate("p", cancel=cancel, on_token=on_token)
    assert c.stopped_by == "cancel"
    assert 10 <= c.completion_tokens <= 12


def _thinker(think_words: int):
    """A fake thinking model: thinks for `think_words` words unless told to answer."""

    def reply(prompt: str) -> str:
        if prompt.rstrip().endswith("</think>"):
            return "ANSWER: 42"
        if prompt.endswith("Wait"):
            return " more thought</think>"
        return "<think> " + " ".join(["hmm"] * think_words) + "</think>\nlate answer"

    return reply


def test_budget_forcing_caps_thinking_and_forces_the_answer():
    engine = ScriptedEngine(_thinker(500))
    c = generate_with_thinking_budget(
        engine, [{"role": "user", "content": "q"}], think_budget=20, max_tokens=50
    )
    assert c.text == "ANSWER: 42"
    assert c.thinking.split() == ["hmm"] * 19  # "<think>" + 19 words = the 20-token budget
    assert engine.prompts[-1].rstrip().endswith("</think>")
    assert c.completion_tokens == 20 + 2


def test_budget_forcing_appends_wait_when_thinking_ends_early():
    engine = ScriptedEngine(_thinker(3))
    c = generate_with_thinking_budget(
        engine, [{"role": "user", "content": "q"}], think_budget=100, min_think=30, max_tokens=50
    )
    assert c.text == "ANSWER: 42"
    assert "Wait more thought" in c.thinking
    assert any(p.endswith("Wait") for p in engine.prompts)


def test_non_thinking_model_answer_passes_through():
    engine = ScriptedEngine(["just the answer " * 10, "and the rest"])
    c = generate_with_thinking_budget(
        engine, [{"role": "user", "content": "q"}], think_budget=5, max_tokens=100
    )
    assert c.thinking == ""
    assert c.text.startswith("just the answer") and c.text.endswith("and the rest")
