"""Generate's decisions, with scripted model replies and the real sandbox."""

from __future__ import annotations

import threading
import time

import pytest

from verifix.cancel import CancelToken
from verifix.config import PipelineSettings
from verifix.engine import EngineError, ScriptedEngine
from verifix.pipeline.generate import Generate
from verifix.pipeline.task import from_source

SOURCE = '''
def double(x):
    """Return x times two.

    >>> double(2)
    4
    """
    ...
'''

GOOD = "```python\ndef double(x):\n    return x * 2\n```"
GOOD_2 = "```python\ndef double(x):\n    return x + x\n```"
GOOD_3 = "```python\ndef double(x):\n    result = 2 * x\n    return result\n```"
# Passes the docstring example (double(2) == 4) but is wrong elsewhere.
SQUARE = "```python\ndef double(x):\n    return x * x\n```"
BROKEN = "```python\ndef double(x):\n    return x + 1\n```"
INPUTS = "```python\nassert double(0) == 0\nassert double(3) == 6\nassert double(-5) == -10\n```"
PLANS = "1. Multiply the number by two using the * operator.\n2. Add the number to itself."


def responder(code_replies, inputs=INPUTS, plans=PLANS, repairs=()):
    """Scripted model: answers each kind of prompt from its own queue."""
    code_q, repair_q = list(code_replies), list(repairs)

    def reply(prompt: str) -> str:
        if "different test calls" in prompt:
            return inputs
        if "different ways to implement" in prompt:
            return plans
        if "This implementation is wrong" in prompt:
            return repair_q.pop(0) if repair_q else "no idea"
        return code_q.pop(0) if code_q else "I cannot do that."

    return reply


def task():
    return from_source(SOURCE, "double")


def generate(task, engine, sandbox, events=lambda _e: None, cancel=None, **settings):
    return Generate(task, engine, sandbox, PipelineSettings(**settings), 0, events,
                    cancel).run()


def run(engine, sandbox, **settings):
    return generate(task(), engine, sandbox, **settings)


def test_probe_confirmed_by_an_independent_sample_stops_early(sandbox):
    engine = ScriptedEngine(responder([GOOD, GOOD_2]))
    result = run(engine, sandbox)
    assert result.status == "verified" and result.phase == "probe"
    assert "return x * 2" in result.code
    assert result.evidence.candidates == 2 and result.evidence.agreeing == 2
    assert not any("different ways" in p for p in engine.prompts)  # no plans needed


def test_example_passing_candidate_that_disagrees_with_the_majority_loses(sandbox):
    # The greedy probe is x*x: it passes double(2) == 4, but the others agree on x*2.
    engine = ScriptedEngine(responder([SQUARE, GOOD, GOOD_2, GOOD_3, GOOD, GOOD_2]))
    result = run(engine, sandbox)
    assert result.status == "verified"
    assert "x * x" not in result.code
    assert result.evidence.agreeing >= 2


def test_wrong_predicted_outputs_do_not_override_agreement(sandbox):
    # The model "predicts" the square's outputs; agreement between x*2 implementations wins.
    wrong = "```python\nassert double(0) == 0\nassert double(3) == 9\nassert double(-5) == 25\n```"
    engine = ScriptedEngine(responder([SQUARE, GOOD, GOOD_2, GOOD_3, GOOD], inputs=wrong))
    result = run(engine, sandbox)
    assert "x * x" not in result.code and result.status == "verified"


def test_single_implementation_is_only_plausible(sandbox):
    engine = ScriptedEngine(responder([GOOD] * 8))
    result = run(engine, sandbox)
    assert result.status == "plausible"
    assert "independent implementations" in result.message


def test_failing_every_trusted_check_is_unverified_and_repair_is_tried(sandbox):
    engine = ScriptedEngine(responder([BROKEN] * 6, repairs=[BROKEN, BROKEN, BROKEN, BROKEN]))
    result = run(engine, sandbox, plans=True, repair=True, resample=0, repairRounds=2)
    assert result.status == "unverified"
    assert result.evidence.repairs >= 2
    assert result.exit_code == 1


def test_repair_fixes_and_is_rechecked(sandbox):
    engine = ScriptedEngine(responder([BROKEN] * 6, repairs=[GOOD, GOOD_2]))
    result = run(engine, sandbox, plans=True, repair=True, resample=0)
    assert result.phase == "repair" and result.status == "verified"
    assert result.evidence.repairs == 2


def test_extra_samples_when_nothing_passes_stop_once_one_passes(sandbox):
    # probe + 4 samples fail the example; extra samples run until one passes: after five
    # failures it can only be plausible (2 of 7 would not be a majority of all).
    replies = [BROKEN] * 5 + [GOOD, GOOD_2, GOOD_3, GOOD]
    engine = ScriptedEngine(responder(replies))
    result = run(engine, sandbox, plans=False, repair=False, resample=4)
    assert result.status == "plausible" and result.phase == "candidates"
    assert result.evidence.candidates == 6 and result.evidence.repairs == 0
    # Without extra samples the same model gives nothing that passes.
    engine = ScriptedEngine(responder(replies))
    assert run(engine, sandbox, plans=False, repair=False, resample=0).status == "unverified"


def test_confirmation_samples_count_toward_the_candidates(sandbox):
    # Every sample passes the example and each behaves differently, so nothing settles: the
    # probe, its confirmation sample and 4 - 1 more samples (k is a maximum).
    others = ["x + 2", "4", "x * x * x // 2", "x * 2 + x * x - 4", "abs(x) * 2"]
    replies = [SQUARE, GOOD] + [f"```python\ndef double(x):\n    return {e}\n```"
                                for e in others]
    result = run(ScriptedEngine(responder(replies)), sandbox, resample=0)
    assert result.status == "plausible" and result.evidence.candidates == 5


def test_no_sample_is_drawn_once_the_answer_would_be_verified(sandbox):
    # The probe passes, the confirmation sample fails the example; the next sample agrees with
    # the probe: 2 of 3 implementations agree, so the last two samples are never asked for.
    replies = [GOOD, BROKEN, GOOD_2, GOOD_3, GOOD_3]
    result = run(ScriptedEngine(responder(replies)), sandbox)
    assert result.status == "verified" and result.evidence.candidates == 3


def test_no_inputs_to_compare_on_stops_at_the_first_passing_candidate(sandbox):
    # The model proposes no usable inputs: nothing drawn after the probe could change the
    # answer (the first passing candidate) or its label (plausible), so nothing is drawn.
    replies = [SQUARE, GOOD, GOOD_2, GOOD_3, GOOD]
    result = run(ScriptedEngine(responder(replies, inputs="no idea")), sandbox)
    assert result.status == "plausible" and "x * x" in result.code
    assert (result.evidence.inputs, result.evidence.candidates) == (0, 1)
    # A failing probe: samples until one passes, then none.
    result = run(ScriptedEngine(responder([BROKEN, BROKEN, GOOD, GOOD_2], inputs="no idea")),
                 sandbox)
    assert result.status == "plausible" and result.evidence.candidates == 3


def test_a_renamed_copy_is_one_opinion(sandbox):
    # The confirmation sample is the probe with another name for x: it does not confirm it.
    renamed = "```python\ndef double(n):\n    return n * 2\n```"
    replies = [GOOD, renamed, GOOD_2] + [GOOD_3] * 6
    result = run(ScriptedEngine(responder(replies)), sandbox)
    assert result.status == "verified" and result.evidence.candidates == 3


def test_verified_needs_a_majority_of_every_implementation_written(sandbox):
    # Two of five distinct implementations pass the example and agree; three fail it.
    minus = "```python\ndef double(x):\n    return x - 1\n```"
    plus3 = "```python\ndef double(x):\n    return x + 3\n```"
    replies = [BROKEN, minus, plus3, GOOD, GOOD_2]
    result = run(ScriptedEngine(responder(replies)), sandbox, resample=0)
    assert result.status == "plausible" and result.evidence.considered == 5
    assert result.evidence.agreeing == 2 and "only 2 of 5" in result.message


def test_no_extra_samples_when_a_candidate_already_passes(sandbox):
    engine = ScriptedEngine(responder([BROKEN] * 4 + [GOOD] + [GOOD_2] * 4))
    result = run(engine, sandbox, plans=False, repair=False, resample=4)
    assert result.status == "plausible" and result.evidence.candidates == 5


def test_repair_that_fixes_one_check_and_breaks_another_is_not_selected(sandbox):
    source = '''
def sign(x):
    """Return 1 for positive x, -1 for negative x and 0 for zero.

    >>> sign(5)
    1
    >>> sign(-2)
    -1
    >>> sign(0)
    0
    """
'''
    # Passes sign(5) and sign(0), fails sign(-2).
    first = "```python\ndef sign(x):\n    return 1 if x > 0 else 0\n```"
    # "Fixes" sign(-2) but breaks sign(0).
    regress = "```python\ndef sign(x):\n    return 1 if x > 0 else -1\n```"
    engine = ScriptedEngine(responder([first] * 6, repairs=[regress] * 4))
    result = generate(from_source(source, "sign"), engine, sandbox, repair=True, resample=0)
    assert result.status == "unverified" and result.evidence.repairs >= 1
    assert "else -1" not in result.code  # the regression scored 2/3, like the original
    assert result.evidence.trusted_passed == 2


def test_no_code_block_is_an_error(sandbox):
    engine = ScriptedEngine(responder([]))
    result = run(engine, sandbox, repair=False)
    assert result.status == "error" and "no usable code" in result.message
    assert result.exit_code == 2


def test_engine_error_mid_run_keeps_what_it_has(sandbox):
    calls = {"n": 0}
    base = responder([GOOD, GOOD_2])

    def flaky(prompt: str) -> str:
        calls["n"] += 1
        if calls["n"] > 1:
            raise EngineError("server went away")
        return base(prompt)

    result = run(ScriptedEngine(flaky), sandbox)
    assert result.status == "plausible" and "engine error: server went away" in result.message


def test_engine_error_before_any_candidate_is_an_error(sandbox):
    def broken(prompt: str) -> str:
        raise EngineError("model not loaded")

    result = run(ScriptedEngine(broken), sandbox)
    assert result.status == "error" and "model not loaded" in result.message


def test_cancel_stops_the_run(sandbox):
    cancel = CancelToken()
    engine = ScriptedEngine(responder([GOOD + " " + "pad " * 400] * 8), delay_s=0.01)
    timer = threading.Timer(0.3, cancel.cancel)
    timer.start()
    result = generate(task(), engine, sandbox, cancel=cancel)
    timer.cancel()
    assert result.status == "error" and result.message == "cancelled"


def test_time_budget_exhausted_is_reported(sandbox):
    engine = ScriptedEngine(responder([SQUARE] + [GOOD + " pad" * 30] * 8), delay_s=0.02)
    result = run(engine, sandbox, timeBudget=1.0)
    assert "time budget" in result.message
    assert result.status in ("plausible", "verified", "unverified")


def test_the_time_budget_ends_a_reply_under_way(sandbox):
    # The probe always finishes (a slow machine still gets an answer), even past the budget;
    # the next reply would take 8 s and is cut at the budget instead.
    engine = ScriptedEngine(responder([GOOD + " pad" * 100] + [GOOD_2 + " pad" * 1600] * 8),
                            delay_s=0.005)
    started = time.monotonic()
    result = run(engine, sandbox, timeBudget=1.0)
    assert time.monotonic() - started < 5
    assert "time budget of 1 s exhausted" in result.message, result.message
    assert "return x * 2" in result.code  # the probe's answer, finished past the budget


def test_events_cover_the_phases(sandbox):
    seen = []
    engine = ScriptedEngine(responder([SQUARE, GOOD, GOOD_2, GOOD_3, GOOD]))
    generate(task(), engine, sandbox, events=seen.append, plans=True)
    phases = [e.phase for e in seen]
    for phase in ("task", "probe", "inputs", "plans", "candidates", "select", "done"):
        assert phase in phases
    assert seen[-1].percent == 100


@pytest.mark.parametrize("flag", ["plans", "generatedChecks"])
def test_ablations_switch_stages_off(sandbox, flag):
    engine = ScriptedEngine(responder([SQUARE, GOOD, GOOD_2, GOOD_3, GOOD, GOOD]))
    result = run(engine, sandbox, **{flag: False})
    marker = "different ways" if flag == "plans" else "different test calls"
    assert not any(marker in p for p in engine.prompts)
    if flag == "generatedChecks":
        assert result.status == "plausible"  # no inputs: agreement cannot be shown


def test_a_thinking_model_thinks_within_the_budget_then_answers(sandbox):
    # The model would think for 500 words; the budget closes its block after 40 tokens and the
    # answer (the code) follows, so a thinking model works within maxTokens.
    answers = responder([GOOD, GOOD_2])

    def thinker(prompt: str) -> str:
        if prompt.endswith("</think>\n\n"):
            return answers(prompt)
        return "<think>" + " hmm" * 500  # never done thinking by itself

    engine = ScriptedEngine(thinker, thinks=True)
    result = run(engine, sandbox, thinkingBudget=40, maxTokens=200)
    assert result.status == "verified" and "return x * 2" in result.code
    closed = [p for p in engine.prompts if p.endswith("</think>\n\n")]
    assert len(closed) == 3  # the probe, the inputs and the confirming sample
    assert all(p.count(" hmm") <= 40 for p in closed)
    # Without the budget the thinking uses up maxTokens and no code arrives.
    engine = ScriptedEngine(thinker, thinks=True)
    assert run(engine, sandbox, thinkingBudget=0, maxTokens=200).status == "error"


def test_waves_draw_samples_together_and_reach_the_same_answer(sandbox):
    # The probe passes, the confirming sample disagrees with it on an input: the inputs and
    # that sample come in one wave, then the candidates in waves of two.
    replies = [SQUARE, GOOD, GOOD_2, GOOD_3, GOOD, GOOD_2]
    one = ScriptedEngine(responder(replies), parallel=2)
    two = ScriptedEngine(responder(replies), parallel=2)
    alone, together = run(one, sandbox), run(two, sandbox, wave=2)
    assert one.waves == [] and two.waves[0] == 2 and set(two.waves) == {2}
    assert together.status == alone.status == "verified" and together.code == alone.code
    # No more samples than one at a time would have drawn (k = 4 is a maximum).
    assert together.evidence.candidates <= alone.evidence.candidates + 1


def test_a_wave_is_never_larger_than_the_engine_decodes(sandbox):
    engine = ScriptedEngine(responder([SQUARE, GOOD, GOOD_2, GOOD_3, GOOD]))  # parallel = 1
    assert run(engine, sandbox, wave=4).status == "verified" and engine.waves == []


def test_a_probe_that_passes_the_checks_is_offered_before_agreement(sandbox):
    seen = []
    engine = ScriptedEngine(responder([GOOD, GOOD_2]))
    result = generate(task(), engine, sandbox, events=seen.append)
    interim = [e for e in seen if e.interim is not None]
    assert len(interim) == 1  # once, as soon as the probe passes
    offer = interim[0].interim
    assert offer.status == "plausible" and "return x * 2" in offer.code
    assert "1/1 trusted checks" in offer.message and "def double" in offer.program
    # It comes before the inputs are asked for, and the job then ends verified.
    assert seen.index(interim[0]) < [e.phase for e in seen].index("inputs")
    assert result.status == "verified"


@pytest.mark.parametrize("probe", [BROKEN, "I cannot do that."])
def test_when_the_probe_fails_the_first_candidate_that_passes_is_offered(sandbox, probe):
    seen = []
    engine = ScriptedEngine(responder([probe, SQUARE, GOOD, GOOD_2, GOOD_3]))
    result = generate(task(), engine, sandbox, events=seen.append)
    (offer,) = [e.interim for e in seen if e.interim is not None]
    assert "x * x" in offer.code  # it passes double(2) == 4; agreement later prefers x * 2
    assert result.status == "verified" and "x * 2" in result.code


def test_nothing_is_offered_when_nothing_passes_the_checks(sandbox):
    seen = []
    engine = ScriptedEngine(responder([BROKEN] * 10))
    result = generate(task(), engine, sandbox, events=seen.append)
    assert all(e.interim is None for e in seen) and result.status == "unverified"


def test_nothing_is_offered_without_trusted_checks(sandbox):
    bare = from_source("def double(x):\n    \"\"\"Return x times two.\"\"\"\n", "double")
    seen = []
    generate(bare, ScriptedEngine(responder([GOOD, GOOD_2, GOOD_3])), sandbox,
             events=seen.append)
    assert all(e.interim is None for e in seen)


def test_the_inputs_and_the_first_sample_are_decoded_together(sandbox):
    engine = ScriptedEngine(responder([GOOD, GOOD_2]), parallel=2)
    result = run(engine, sandbox, wave=2)
    assert result.status == "verified" and result.phase == "probe"
    assert engine.waves == [2]  # one wave: nothing else was drawn
    probe, inputs, sample = engine.prompts
    assert "different test calls" in inputs and "different test calls" not in sample
    assert result.evidence.candidates == 2 and result.evidence.inputs == 3
    # The probe fails: the paired sample is the first candidate, and counts toward k.
    engine = ScriptedEngine(responder([BROKEN, GOOD, GOOD_2, GOOD_3, GOOD]), parallel=2)
    result = run(engine, sandbox, wave=2, candidates=2, plans=False)
    assert result.status == "verified" and "x * 2" in result.code
    assert engine.waves[0] == 2 and result.evidence.candidates == 3


def test_the_models_test_calls_end_once_it_has_written_enough():
    from verifix.pipeline.candidates import MAX_CALL_LINE, EnoughCalls

    enough = EnoughCalls("double", 3)
    assert not enough("```python\nassert double(1) == 2\nassert double(2) == 4\n")
    assert enough("```python\nassert double(1) == 2\nassert double(2) == 4\n"
                  "assert double(3) == 6\n")
    # A greedy reply that repeats a line goes on repeating it.
    assert EnoughCalls("double", 8)("assert double(1) == 2\nassert double(1) == 2\n")
    assert EnoughCalls("double", 8)("assert double([" + "1, " * MAX_CALL_LINE)


def test_a_reply_of_test_calls_that_repeats_itself_is_cut_short(sandbox):
    looping = "```python\n" + "assert double(3) == 6\n" * 60 + "```"
    engine = ScriptedEngine(responder([GOOD, GOOD_2], inputs=looping))
    result = run(engine, sandbox)
    assert result.status == "verified"
    # Two lines of calls, not sixty (about 10 scripted tokens each).
    assert result.model_time["inputs"]["completion_tokens"] < 40
