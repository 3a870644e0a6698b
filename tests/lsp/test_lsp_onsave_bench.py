"""`verifix bench lsp --case onsave` with a scripted model (the test hook) and the real sandbox:
each HumanEvalFix task's project gets its own real server; saving the buggy module yields the
failing test's diagnostic, the background repair's outcome and, when it verifies, the "Apply
verified fix" code action on the diagnostic."""

from __future__ import annotations

import json

import pytest

from verifix import cli
from verifix.bench import repair as br
from verifix.lsp import protocol as P


@pytest.fixture(scope="module")
def problems():
    return br.load_problems(br.data_path(None))  # shipped with the package


def fenced(code: str) -> str:
    return f"```python\n{code}```"


def scripted(tmp_path, monkeypatch, problems, n: int, body: str) -> list[str]:
    """The first `n` subset tasks, each answered with its declaration + `body` (a field of the
    task): one script for every server, a rule per task keyed on its function."""
    ids = br.select_tasks(problems, "subset", n)
    rules = [{"contains": f"def {problems[t]['entry_point']}(",
              "replies": [fenced(problems[t]["declaration"] + problems[t][body])]} for t in ids]
    spec = tmp_path / "engine.json"
    spec.write_text(json.dumps({"rules": rules, "default": ["no code here"]}), encoding="utf-8")
    monkeypatch.setenv(P.TEST_ENGINE_ENV, str(spec))
    # The wrong reply never verifies: keep its resamples and rounds few.
    monkeypatch.setenv("VERIFIX_PIPELINE_RESAMPLE", "1")
    monkeypatch.setenv("VERIFIX_PIPELINE_REPAIR_ROUNDS", "1")
    return ids


def bench(capsys, n: int) -> dict:
    assert cli.main(["bench", "lsp", "--case", "onsave", "--tasks", str(n), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_canonical_fix_is_offered_after_the_diagnostic(tmp_path, monkeypatch, capsys,
                                                          problems):
    ids = scripted(tmp_path, monkeypatch, problems, 2, "canonical_solution")
    found = bench(capsys, 2)
    assert found["case"] == "onsave" and found["engine"] == "scripted (test hook)"
    assert [r["task_id"] for r in found["per_task"]] == ids == ["Python/0", "Python/4"]
    for r in found["per_task"]:
        assert r["error"] == ""
        assert r["model_load_s"] > 0
        assert r["status"] == "verified" and r["fix_offered"] is True
        assert 0 < r["diagnostic_s"] <= r["repair_s"] <= r["fix_offered_s"]
        assert any(t.startswith(P.TITLE_APPLY_FIX) for t in r["actions"])
    assert found["offered"] == 2 and found["fix_offered_s"]["n"] == 2
    assert found["diagnostic_s"]["n"] == 2 and found["diagnostic_s"]["median"] > 0
    # The report: one row per task, then the medians and means.
    text = cli_markdown(found)
    assert "| Python/0 | " in text and "| Python/4 | " in text
    assert f"offered | {found['fix_offered_s']['median']:.2f} |" in text and "| 2/2 |" in text


def test_a_wrong_reply_is_not_offered_and_its_status_is_reported(tmp_path, monkeypatch, capsys,
                                                                 problems):
    scripted(tmp_path, monkeypatch, problems, 1, "buggy_solution")
    found = bench(capsys, 1)
    (r,) = found["per_task"]
    assert r["task_id"] == "Python/0" and r["error"] == ""
    assert r["diagnostic_s"] > 0 and r["repair_s"] >= r["diagnostic_s"]
    assert r["status"] in ("unverified", "plausible", "error") and r["repair_message"]
    assert r["fix_offered"] is False and r["fix_offered_s"] is None
    assert not any(t.startswith(P.TITLE_APPLY_FIX) for t in r["actions"])
    assert any(t.startswith(P.TITLE_REPAIR) for t in r["actions"])
    assert found["offered"] == 0 and found["fix_offered_s"] == {"n": 0, "median": None,
                                                                "mean": None}
    assert f"| not offered ({r['status']}) |" in cli_markdown(found)


def cli_markdown(found: dict) -> str:
    from verifix.bench.lsp_latency import onsave_markdown

    return onsave_markdown(found)
