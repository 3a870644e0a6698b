"""`verifix bench repair` (HumanEvalFix) with a scripted model and the real sandbox: each task is
a real project repaired through `prepare`/`execute`, the full hidden test scores the one result,
it never reaches the model or (protocol heldout) the project, and a resumed run redoes nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from verifix.bench import repair as br
from verifix.config import Settings
from verifix.engine.scripted import ScriptedEngine
from verifix.pipeline.jobs import prepare

CLOSE = "Python/0"  # has_close_elements: the bug drops abs(); it fails example_test too
ADD = "Python/53"  # add: `return x + y + y + x`
SKIPPED = "Python/32"  # find_zero: the buggy code passes example_test
# Passes the docstring examples and example_test of /0, fails its full test.
LOOKS_RIGHT = "def has_close_elements(numbers, threshold):\n    return len(numbers) > 5\n"
FAST = {"pipeline": {"candidates": 2, "repairRounds": 1}}


@pytest.fixture(scope="module")
def problems():
    return br.load_problems(br.data_path(None))  # shipped with the package


def fenced(code: str) -> str:
    return f"```python\n{code}```"


def canonical(problem) -> str:
    return problem["prompt"].lstrip("\n") + problem["canonical_solution"]


def hidden_only(problem) -> list[str]:
    """The hidden test's assertions that example_test does not have."""
    shown = problem["example_test"]
    return [line.strip() for line in problem["test"].splitlines()
            if line.strip().startswith("assert") and line.strip() not in shown]


def drop_seconds(record):
    return {k: v for k, v in record.items() if k != "seconds"}


class Recorder(ScriptedEngine):
    """A scripted engine that also keeps each call's temperature."""

    def __init__(self, reply) -> None:
        super().__init__(reply)
        self.temperatures: list[float] = []

    def generate(self, prompt, **kw):
        self.temperatures.append(kw.get("temperature", 0.0))
        return super().generate(prompt, **kw)


def responder(problems, fix: dict[str, str], rewrite: dict[str, str] | None = None):
    """The reply for each task (by its function name in the prompt): `fix` answers repair
    prompts, `rewrite` (default: the same) answers "from scratch" prompts."""
    rewrite = fix if rewrite is None else rewrite

    def reply(prompt: str) -> str:
        table = rewrite if "from scratch" in prompt else fix
        for tid, code in table.items():
            if f"`{problems[tid]['entry_point']}`" in prompt:
                return fenced(code)
        return "no idea"
    return reply


def test_a_task_is_a_project_whose_test_fails_and_the_canonical_fix_passes(problems, sandbox,
                                                                            tmp_path):
    p = problems[CLOSE]
    for protocol in br.PROTOCOLS:
        root = tmp_path / protocol
        root.mkdir()
        test_file = br.write_project(root, p, br.visible_check(protocol, p))
        assert test_file == root / "tests" / "test_has_close_elements.py"
        assert "[project]" in (root / "pyproject.toml").read_text()
        module = (root / "has_close_elements.py").read_text()
        assert module.startswith("from typing import List\n")
        assert module == br.buggy_module(p) and p["buggy_solution"].strip() in module
        text = test_file.read_text()
        assert "from has_close_elements import has_close_elements" in text
        assert "def test_has_close_elements():" in text and "def check" not in text
        task, src = prepare("repair", f"{test_file}::test_has_close_elements", sandbox,
                            root=root, python=sys.executable)
        assert task.qualname == "has_close_elements"
        assert src.path.resolve() == (root / "has_close_elements.py").resolve()
        assert task.oracle_test == "tests/test_has_close_elements.py::test_has_close_elements"
        assert "AssertionError" in task.oracle_failure or "assert" in task.oracle_failure
        fixed = sandbox.run_project_tests(root, {"has_close_elements.py": canonical(p)},
                                          task.project_tests, python=task.python)
        assert fixed.passed, fixed.results
        assert br.hidden_pass(sandbox, canonical(p), p)
        assert not br.hidden_pass(sandbox, br.buggy_module(p), p)
        present = "\n".join(f.read_text() for f in root.rglob("*.py"))
        if protocol == "heldout":
            assert hidden_only(p) and not any(a in present for a in hidden_only(p))
        else:
            assert all(a in present for a in hidden_only(p))
    assert br.skip_reason("heldout", problems[SKIPPED], sandbox) == \
        "the buggy code passes example_test"
    assert br.skip_reason("tests", problems[SKIPPED], sandbox) is None
    assert br.skip_reason("heldout", problems[CLOSE], sandbox) is None


def test_the_hidden_test_reaches_neither_the_model_nor_the_heldout_project(problems, sandbox,
                                                                           tmp_path, monkeypatch):
    built: list[Path] = []
    seen_files: list[str] = []
    write = br.write_project

    def spy(root, problem, check_src):
        built.append(root)
        return write(root, problem, check_src)

    monkeypatch.setattr(br, "write_project", spy)
    wrong = {CLOSE: "def has_close_elements(numbers, threshold):\n    return False\n"}
    reply = responder(problems, wrong)

    def look(prompt: str) -> str:  # while the job runs: what is in its project?
        seen_files.append("\n".join(f.read_text(errors="replace")
                                     for f in built[-1].rglob("*") if f.is_file()))
        return reply(prompt)

    for protocol in br.PROTOCOLS:
        engine = ScriptedEngine(look)
        seen_files.clear()
        results, _skipped = br.run_protocol(protocol, ["pipeline"], [CLOSE], problems,
                                            Settings().merged(FAST), tmp_path / protocol, False,
                                            engine, sandbox)
        assert [r["passed"] for r in results["pipeline"]] == [False]
        assert not any("abs(elem - elem2)" in q for q in engine.prompts)  # nor the answer
        # A fix, a rewrite and a fix in the next round: every kind of prompt was seen.
        assert len(engine.prompts) == 3 and len(seen_files) == 3
        assert sum("from scratch" in q for q in engine.prompts) == 1
        hidden = hidden_only(problems[CLOSE])
        assert len(hidden) == 7  # none of them is one of example_test's 2
        in_prompts = [a for a in hidden if any(a in q for q in engine.prompts)]
        in_project = [a for a in hidden if any(a in s for s in seen_files)]
        if protocol == "heldout":
            assert in_prompts == [] and in_project == [], (in_prompts, in_project)
        else:  # HumanEvalFixTests: the model is given the full test, as published
            assert in_prompts == hidden and in_project == hidden


@pytest.mark.parametrize("protocol", br.PROTOCOLS)
def test_the_full_test_scores_the_one_result(problems, sandbox, tmp_path, protocol):
    engine = Recorder(responder(problems, {CLOSE: canonical(problems[CLOSE])}))
    results, _ = br.run_protocol(protocol, ["greedy-fix"], [CLOSE], problems, Settings(),
                                 tmp_path, False, engine, sandbox)
    right = results["greedy-fix"][0]
    assert right["passed"] is True and right["status"] == "verified"
    assert right["origin"] == "fix" and right["right"] == ["fix"] and right["ceiling"] is True
    assert right["prompt_tokens"] > 0 and right["completion_tokens"] > 0
    assert right["bug_type"] == "missing logic"
    # greedy-fix: exactly one temperature-0 repair of the buggy code.
    assert engine.temperatures == [0.0] and "from scratch" not in engine.prompts[0]

    # A fix that passes the visible test but not the full one: verified and wrong in heldout.
    engine = ScriptedEngine(responder(problems, {CLOSE: LOOKS_RIGHT},
                                      {CLOSE: canonical(problems[CLOSE])}))
    out = tmp_path / "looks-right"
    results, _ = br.run_protocol(protocol, ["greedy-fix", "pipeline"], [CLOSE], problems,
                                 Settings().merged(FAST), out, False, engine, sandbox)
    greedy, pipeline = results["greedy-fix"][0], results["pipeline"][0]
    assert greedy["passed"] is False and greedy["origin"] == "fix"
    if protocol == "heldout":
        assert greedy["status"] == "verified"  # the precision the report shows is below 100%
        assert pipeline["status"] == "verified" and pipeline["passed"] is False
        assert pipeline["origin"] == "fix" and pipeline["candidates"] == 1  # stops at verified
        assert pipeline["right"] == [] and pipeline["ceiling"] is False
    else:  # the full test is the project's test: the first fix fails it, the rewrite passes
        assert greedy["status"] == "unverified"
        assert pipeline["status"] == "verified" and pipeline["passed"] is True
        assert pipeline["origin"] == "rewrite" and pipeline["candidates"] == 2
    text = br.report_protocol(out, protocol, {"model": "scripted", "tasks": 1, "seed": 0,
                                              "task_spec": "test", "date": "today"})
    precision = "1 (0.0%)" if protocol == "heldout" else "0 (–)"
    assert f"| greedy-fix | 0/1 = 0.0% | 0.0%–0.0% | {precision} |" in text
    assert "x greedy-fix" in text
    kinds = "1 / 0 / 0 / 0" if protocol == "heldout" else "0 / 1 / 0 / 0"
    won = "0 / 0 / 0" if protocol == "heldout" else "0 / 1 / 0"
    assert f"| pipeline | {won} | {won} | {kinds} |" in text
    assert json.loads((out / "summary.json").read_text())["meta"]["protocol"] == protocol


def test_resume_skips_finished_and_skipped_tasks(problems, sandbox, tmp_path):
    reply = responder(problems, {CLOSE: canonical(problems[CLOSE]),
                                 ADD: "def add(x, y):\n    return x + y\n"})
    engine = ScriptedEngine(reply)
    ids = [CLOSE, SKIPPED, ADD]
    modes = ["no-rewrites"]
    results, skipped = br.run_protocol("heldout", modes, ids, problems, Settings(), tmp_path,
                                       False, engine, sandbox)
    assert skipped == {SKIPPED: "the buggy code passes example_test"}
    assert [r["task_id"] for r in results["no-rewrites"]] == [CLOSE, ADD]
    assert all(r["passed"] for r in results["no-rewrites"])
    asked = len(engine.prompts)
    assert asked == 2  # the first fix passes: no second one

    again, skipped_again = br.run_protocol("heldout", modes, ids, problems, Settings(),
                                           tmp_path, True, engine, sandbox)
    assert len(engine.prompts) == asked and again == results
    assert skipped_again == skipped
    # A record cut by an interruption: only that task runs again.
    path = tmp_path / "no-rewrites.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:40])
    again, _ = br.run_protocol("heldout", modes, ids, problems, Settings(), tmp_path, True,
                               engine, sandbox)
    assert len(engine.prompts) == asked + 1
    assert [drop_seconds(r) for r in again["no-rewrites"]] == \
        [drop_seconds(r) for r in results["no-rewrites"]]
    assert [json.loads(x)["task_id"] for x in path.read_text().splitlines()] == [CLOSE, ADD]
    side = (tmp_path / "candidates" / "no-rewrites.jsonl").read_text().splitlines()
    assert [json.loads(x)["task_id"] for x in side] == [CLOSE, ADD]
    text = br.report_protocol(tmp_path, "heldout", {"model": "scripted", "seed": 0,
                                                    "task_spec": "test", "date": "today"}, ids)
    assert text.startswith("HumanEvalFix heldout, test (2 tasks)")
    assert "| no-rewrites | 2/2 = 100.0% |" in text
    assert "Skipped, nothing to repair (1): /32 (the buggy code passes example_test)." in text
    # Without --resume the modes start over.
    br.run_protocol("heldout", modes, ids, problems, Settings(), tmp_path, False, engine,
                    sandbox)
    assert len(engine.prompts) == asked + 3


def test_task_selection_modes_and_settings(problems):
    subset = br.select_tasks(problems, "subset", None)
    assert len(subset) == 40 and subset[:3] == ["Python/0", "Python/4", "Python/8"]
    assert subset[-1] == "Python/156"
    assert br.select_tasks(problems, "3", None) == ["Python/0", "Python/1", "Python/2"]
    assert br.select_tasks(problems, "3,Python/7", None) == ["Python/3", "Python/7"]
    assert br.select_tasks(problems, "Python/7", None) == ["Python/7"]
    assert len(br.select_tasks(problems, "all", None)) == 164
    assert len(br.select_tasks(problems, "all", 5)) == 5
    with pytest.raises(ValueError, match="unknown task ids"):
        br.select_tasks(problems, "Python/999", None)

    settings = Settings()
    g = br.settings_for("greedy-fix", settings)
    assert (g.candidates, g.repairRounds, g.repairRewrites, g.repairFixes) == (1, 0, False, True)
    p = br.settings_for("pipeline", settings)
    assert p == br.settings_for("pipeline", settings) and p.repairRounds == 2
    assert (p.candidates, p.repairRewrites, p.repairFixes) == (4, True, True)
    assert p.timeBudget >= 3600
    assert br.settings_for("no-rewrites", settings).repairRewrites is False
    assert br.settings_for("no-fixes", settings).repairFixes is False
    assert br.settings_for("no-repair-rounds", settings).repairRounds == 0
    q = br.settings_for("no-fixes+no-repair-rounds", settings)
    assert (q.repairFixes, q.repairRounds) == (False, 0)
    for bad in ("greedy-fix+no-fixes", "greedy", "no-rewrite", ""):
        with pytest.raises(ValueError, match="unknown mode"):
            br.check_mode(bad)
    with pytest.raises(ValueError, match="unknown protocol"):
        br.check_protocol("hidden")
    odd = problems["Python/119"]  # its example_test starts with the canonical solution
    assert "def check(s)" not in br.test_file_text(odd, odd["example_test"])
    assert "def test_match_parens():" in br.test_file_text(odd, odd["example_test"])
    with pytest.raises(ValueError, match="--data"):
        br.load_problems(Path("/nonexistent/humanevalpack.jsonl.gz"))
