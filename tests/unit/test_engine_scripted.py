"""The engine contract, checked on the ScriptedEngine, plus stop strings and budget forcing."""

from __future__ import annotations

import threading

import pytest

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


def test_a_test_of_the_text_so_far_ends_the_reply_after_its_last_complete_line():
    two_lines = lambda text: text.count("\n") >= 2  # noqa: E731
    engine = ScriptedEngine(["a = 1\nb = 2\nc = 3\nd = 4\n"])
    seen: list[str] = []
    c = engine.generate("p", stop=["```", two_lines], on_token=seen.append)
    assert (c.text, c.stopped_by) == ("a = 1\nb = 2\n", "stop")
    assert "".join(seen) == c.text
    s = StopScanner([lambda text: len(text) > 8])
    assert s.feed("x = 1\ny") == ("x = 1\n", False)  # an unfinished line waits
    assert s.feed(" = 22") == ("", True)  # ... and is dropped when the reply ends
    assert s.text == "x = 1\n"


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


ASK = [{"role": "user", "content": "q"}]
PROMPT_TOKENS = ScriptedEngine(["x"]).generate(ASK).prompt_tokens


def _model(reply: str, answer: str = "ANSWER: 42", opens: str = ""):
    """A deterministic fake model that always writes `reply`: a prompt that holds the start of
    it gets the rest; one whose thinking block we closed ourselves gets `answer`."""
    prefix = ScriptedEngine().format_chat(ASK) + opens

    def respond(prompt: str) -> str:
        written = prompt.removeprefix(prefix)
        if reply.startswith(written):
            return reply[len(written) :]
        assert written.endswith("\n</think>\n\n"), written
        return answer

    return respond


def test_thinking_past_the_budget_is_cut_closed_and_answered():
    engine = ScriptedEngine(
        _model("<think>" + " hmm" * 500 + "</think>\n\nlate answer"), thinks=True
    )
    c = generate_with_thinking_budget(engine, ASK, think_budget=20, max_tokens=50)
    assert c.thinking.split() == ["hmm"] * 19  # "<think>" + 19 words: the 20-token budget
    assert engine.prompts[-1].endswith(" hmm\n</think>\n\n")  # closed by us, after the cut
    assert (c.text, c.stopped_by) == ("ANSWER: 42", "eos")
    # Every generated token counts (20 thinking, 2 answer); the prompt is the one asked.
    assert c.completion_tokens == 20 + 2 == engine.stats.completion_tokens
    assert c.prompt_tokens == PROMPT_TOKENS


def test_thinking_within_the_budget_keeps_the_models_own_answer():
    engine = ScriptedEngine(_model("<think> short thought</think>\n\nthe answer"), thinks=True)
    c = generate_with_thinking_budget(engine, ASK, think_budget=100, max_tokens=50)
    assert (c.text, c.thinking, c.stopped_by) == ("the answer", "short thought", "eos")
    assert c.completion_tokens == 3 + 2  # "<think>", " short", " thought</think>"; the answer


def test_stop_strings_and_max_tokens_apply_to_the_answer_not_the_thinking():
    thought = "past the first few tokens, try ``` x = 1 ``` then"
    reply = f"<think> {thought}</think>\n\nfinal answer ``` trailing words"
    engine = ScriptedEngine(_model(reply), thinks=True)
    c = generate_with_thinking_budget(engine, ASK, think_budget=100, max_tokens=50, stop=["```"])
    assert (c.thinking, c.text, c.stopped_by) == (thought, "final answer ", "stop")
    engine = ScriptedEngine(_model(reply), thinks=True)
    c = generate_with_thinking_budget(engine, ASK, think_budget=100, max_tokens=1)
    assert (c.text, c.stopped_by) == ("final", "length")


def test_a_template_that_opens_the_block_thinks_from_the_first_token():
    class OpeningTemplate(ScriptedEngine):  # as DeepSeek-R1 distills' templates do
        def format_chat(self, messages):
            return super().format_chat(messages) + "<think>\n"

    engine = OpeningTemplate(
        _model("step one step two</think>\n\nok", opens="<think>\n"), thinks=True
    )
    c = generate_with_thinking_budget(engine, ASK, think_budget=3, max_tokens=50)
    assert (c.thinking, c.text) == ("step one step", "ANSWER: 42")
    assert len(engine.prompts) == 2  # thinking, then the answer: nothing to peek at


@pytest.mark.parametrize(("max_tokens", "stop"), [(100, ["```"]), (3, None), (100, None)])
def test_a_reply_without_thinking_passes_through(max_tokens, stop):
    reply = "def f():\n    return 1\n``` and more words after the fence"
    plain = ScriptedEngine(_model(reply)).generate(ASK, max_tokens=max_tokens, stop=stop)
    engine = ScriptedEngine(_model(reply), thinks=True)
    c = generate_with_thinking_budget(engine, ASK, think_budget=5, max_tokens=max_tokens,
                                      stop=stop)
    assert (c.text, c.stopped_by, c.thinking) == (plain.text, plain.stopped_by, "")
    # The 5 tokens that showed there was no <think> were generated too.
    assert c.completion_tokens == plain.completion_tokens + 5 == engine.stats.completion_tokens


def test_cancel_while_thinking_returns_no_answer():
    cancel = CancelToken()
    model = _model("<think>" + " hmm" * 50 + "</think>\n\nanswer")

    def respond(prompt: str) -> str:
        if prompt.endswith("hmm"):  # asked to think on after the peek
            cancel.cancel()
        return model(prompt)

    engine = ScriptedEngine(respond, thinks=True)
    c = generate_with_thinking_budget(engine, ASK, think_budget=100, cancel=cancel)
    assert (c.text, c.stopped_by) == ("", "cancel")
    assert len(engine.prompts) == 2  # the peek and the cancelled thinking: no answer asked for
