"""`verifix bench relabel`: a finished run's verified answers under majority-of-all, from the
stored programs (analysis only)."""

from __future__ import annotations

import json

import pytest

from verifix.bench import relabel


def prog(body: str, head: str = "") -> str:
    return f"{head}def f(x):\n    {body}\n"


def record(task: str, passed: bool, agreeing: int, status: str = "verified") -> dict:
    return {"task_id": task, "status": status, "passed": passed,
            "message": f"passes 2/2 trusted checks; {agreeing} of {agreeing} independent "
                       f"implementations agree on 6 generated inputs"}


def test_relabel_counts_every_distinct_implementation_written(tmp_path):
    same = [prog("return x + 1"), prog("return x + 1  # comment"),
            prog("return x + 1", head="import os\n")]  # one implementation, three spellings
    side = {
        "T/0": {"programs": [prog("return x + 1"), prog("return 1 + x"), prog("return x - 1")]},
        "T/1": {"programs": same + [prog("return 1 + x"), prog("return x"), prog("return -x")]},
        "T/2": {"programs": [prog("return x")]},
    }
    records = [record("T/0", True, 2), record("T/1", False, 2),
               record("T/2", False, 1, status="plausible")]
    r = relabel.relabel(records, side, {"T/0": "f", "T/1": "f", "T/2": "f"})
    # T/0: 2 of 3 written -> kept; T/1: 2 of 4 written (three spellings count once) -> demoted
    assert (r["verified"], r["verified_right"], r["kept"], r["kept_right"]) == (2, 1, 1, 1)
    assert r["demoted"] == [{"task_id": "T/1", "passed": False, "agreeing": 2, "written": 4}]

    (tmp_path / "candidates").mkdir()
    (tmp_path / "pipeline.jsonl").write_text("".join(json.dumps(x) + "\n" for x in records))
    (tmp_path / "candidates" / "pipeline.jsonl").write_text(
        "".join(json.dumps({"task_id": t, **v}) + "\n" for t, v in side.items()))
    text = relabel.main(tmp_path, "pipeline", {"T/0": "f", "T/1": "f", "T/2": "f"})
    assert "majority-of-all: verified 1, 1 pass" in text and "T/1 FAILS" in text
    with pytest.raises(ValueError, match="not found"):
        relabel.main(tmp_path, "greedy", {})
    with (tmp_path / "pipeline.jsonl").open("a") as f:
        f.write('{"task_id": "T/3", "status": "verif\n')  # cut by an interruption: unfinished
    assert relabel.main(tmp_path, "pipeline", {"T/0": "f", "T/1": "f"}) == text


def test_relabel_refuses_a_record_without_its_agreement_count():
    rec = record("T/0", True, 2)
    rec["message"] = "verified"
    with pytest.raises(ValueError, match="no agreement count"):
        relabel.relabel([rec], {"T/0": {"programs": []}}, {"T/0": "f"})
    with pytest.raises(ValueError, match="not a HumanEval task"):
        relabel.relabel([record("T/9", True, 2)], {"T/9": {"programs": []}}, {})
