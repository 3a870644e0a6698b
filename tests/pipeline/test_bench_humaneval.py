"""`verifix bench humaneval` with a scripted model and the real sandbox: hidden tests score the
one selected answer, never reach the model, and a resumed run redoes nothing."""

from __future__ import annotations

import json

import pytest

from verifix.bench import humaneval as he
from verifix.bench.report import bootstrap_ci, markdown, summarize, write_reports
from verifix.config import Settings
from verifix.engine.scripted import ScriptedEngine

RIGHT, WRONG = "HumanEval/0", "HumanEval/2"


@pytest.fixture(scope="module")
def problems():
    return he.load_problems()


def responder(problems):
    right = problems[RIGHT]["prompt"] + problems[RIGHT]["canonical_solution"]
    wrong = problems[WRONG]["prompt"] + "    return number\n"

    def reply(prompt: str) -> str:
        code = right if "has_close_elements" in prompt else wrong
        return f"```python\n{code}```"
    return reply


def test_subset_is_every_fourth_task(problems):
    subset = he.select_tasks(problems, "subset", None)
    assert len(subset) == 41 and subset[:3] == ["HumanEval/0", "HumanEval/4", "HumanEval/8"]
    assert subset[-1] == "HumanEval/160"
    assert he.select_tasks(problems, "3,HumanEval/7", None) == ["HumanEval/3", "HumanEval/7"]
    assert len(he.select_tasks(problems, "all", 5)) == 5


def test_modes_score_only_the_selected_answer_and_resume(problems, sandbox, tmp_path):
    engine = ScriptedEngine(responder(problems), delay_s=0.002)  # replies take time
    settings = Settings().merged({"pipeline": {"candidates": 2, "repairRounds": 1}})
    modes = ["greedy", "sample-k", "pipeline"]
    results = he.run_suite(modes, [RIGHT, WRONG], settings, tmp_path, False, engine, sandbox)
    for mode in modes:
        by_id = {r["task_id"]: r for r in results[mode]}
        assert by_id[RIGHT]["passed"] is True, (mode, by_id[RIGHT])
        assert by_id[WRONG]["passed"] is False, (mode, by_id[WRONG])
        assert by_id[WRONG]["status"] == "unverified"  # it fails its docstring example
        assert by_id[RIGHT]["prompt_tokens"] > 0 and by_id[RIGHT]["completion_tokens"] > 0
    assert {r["task_id"]: r["ceiling"] for r in results["pipeline"]} == {RIGHT: True,
                                                                          WRONG: False}
    # The first answer: the probe offered before agreement, else the final one.
    right = {r["task_id"]: r for r in results["pipeline"]}[RIGHT]
    assert right["first_answer_passed"] is True
    assert 0 < right["first_answer_seconds"] < right["seconds"] - 0.01
    for r in results["greedy"]:
        assert (r["first_answer_seconds"], r["first_answer_passed"]) == (r["seconds"],
                                                                         r["passed"])
    # Where the model's time went, by kind of request: it adds up to the task's tokens.
    assert set(right["model_time"]) >= {"probe", "inputs"}
    assert right["model_time"]["probe"]["calls"] == 1
    assert sum(k["completion_tokens"] for k in right["model_time"].values()) == (
        right["completion_tokens"])
    assert 0 < sum(k["seconds"] for k in right["model_time"].values()) <= right["seconds"]
    assert set(results["greedy"][0]["model_time"]) == {"probe"}
    # No peeking: the hidden tests never reach the model.
    for pid in (RIGHT, WRONG):
        hidden = problems[pid]["test"].strip().splitlines()[-1].strip()
        assert hidden and not any(hidden in p for p in engine.prompts)

    asked = len(engine.prompts)
    again = he.run_suite(modes, [RIGHT, WRONG], settings, tmp_path, True, engine, sandbox)
    assert len(engine.prompts) == asked  # everything was already done
    assert again == results
    lines = (tmp_path / "greedy.jsonl").read_text().splitlines()
    assert [json.loads(x)["task_id"] for x in lines] == [RIGHT, WRONG]
    # Every candidate's program is kept beside the records, with the one chosen.
    side = [json.loads(x) for x in (tmp_path / "candidates" / "pipeline.jsonl").read_text()
            .splitlines()]
    assert [c["task_id"] for c in side] == [RIGHT, WRONG]
    assert all(c["programs"] and c["chosen"] is not None for c in side)
    assert all(f"def {problems[c['task_id']]['entry_point']}" in c["programs"][c["chosen"]]
               for c in side)

    summary = write_reports(tmp_path, {"model": "scripted", "tasks": 2, "task_spec": "test",
                                       "seed": 0, "date": "today"}, he.MODES)
    assert summary["summaries"]["greedy"]["pass_at_1"] == 0.5
    assert "| greedy | 1/2 = 50.0% |" in summary["markdown"]
    assert he.dates("today", tmp_path) == "today"
    assert he.dates("tomorrow", tmp_path) == "today to tomorrow"
    assert he.dates("today", tmp_path / "nowhere") == "today"
    assert (tmp_path / "pass_rate.png").stat().st_size > 0


def test_summary_figures():
    records = [
        {"passed": True, "status": "verified", "prompt_tokens": 100, "completion_tokens": 50,
         "seconds": 2.0, "ceiling": True},
        {"passed": False, "status": "verified", "prompt_tokens": 300, "completion_tokens": 50,
         "seconds": 4.0, "ceiling": True},
        {"passed": False, "status": "unverified", "prompt_tokens": 200, "completion_tokens": 0,
         "seconds": 6.0, "ceiling": False, "first_answer_seconds": 1.0,
         "first_answer_passed": True,
         "model_time": {"probe": {"seconds": 2.0}, "inputs": {"seconds": 1.5}}},
    ]
    s = summarize(records)
    assert s["passed"] == 1 and s["verified"] == 2 and s["verified_precision"] == 0.5
    assert s["coverage_verified"] == 2 / 3 and s["ceiling"] == 2 / 3
    assert s["tokens_mean"] == 700 / 3 and s["tasks_per_hour"] == 900
    assert s["plausible_precision"] is None
    # Older records carry no first answer: their final answer was the first.
    assert s["first_answer_seconds_median"] == 2.0 and s["first_answer_pass_at_1"] == 2 / 3
    # Where the time went: only the records that kept it.
    assert s["time"] == {"probe": 2.0, "inputs": 1.5, "code": 0.0, "plans": 0.0, "repair": 0.0,
                         "rewrite": 0.0, "rest": 2.5, "tasks": 1}
    lo, hi = bootstrap_ci([True] * 8 + [False] * 2)
    assert 0.4 < lo < 0.8 < hi <= 1.0
    table = markdown({"greedy": s, "pipeline": s | {"tokens_mean": 1400.0}},
                     {"task_spec": "x", "tasks": 3})
    assert "| 6.00x |" in table and "| 1.00x |" in table
    assert "| pipeline | 2.0 | 1.5 | 0.0 | 0.0 | 0.0 | 0.0 | 2.5 | 1 |" in table


def test_pipeline_switches_compose_and_unknown_modes_fail():
    settings = Settings()
    p = he.settings_for("plans+repair+no-resample", settings)
    assert (p.plans, p.repair, p.resample) == (True, True, 0)
    p = he.settings_for("pipeline", settings)
    assert (p.plans, p.repair, p.resample) == (False, False, 4)  # the settings' defaults
    assert p.timeBudget >= 3600  # answers must not depend on how busy the machine is
    assert he.settings_for("no-generated-checks", settings).generatedChecks is False
    p = he.settings_for("no-resample+resample", settings.merged({"pipeline": {"resample": 9}}))
    assert p.resample == 4  # "resample" names the default, whatever was configured
    he.check_mode("no-plans+no-repair")
    for bad in ("greedy+resample", "pipline", "resample+", ""):
        with pytest.raises(ValueError, match="unknown mode"):
            he.check_mode(bad)
