"""A benchmark run's records: resuming after an interruption that cut a line."""

from __future__ import annotations

import json

from verifix.bench.records import dates, read_records, run_mode


def test_resume_reruns_the_cut_task_and_keeps_every_line_whole(tmp_path):
    (tmp_path / "m.jsonl").write_text(json.dumps({"task_id": "T/0", "passed": True}) + "\n"
                                      + '{"task_id": "T/1", "pass')  # cut mid-line
    ran = []

    def one(task_id):
        ran.append(task_id)
        return ({"task_id": task_id, "status": "unverified", "passed": False},
                {"task_id": task_id, "programs": []})

    records = run_mode("m", tmp_path, "m", ["T/0", "T/1", "T/2"], True, one)
    assert ran == ["T/1", "T/2"]
    assert [r["task_id"] for r in records] == ["T/0", "T/1", "T/2"]
    assert [r["task_id"] for r in read_records(tmp_path / "m.jsonl")] == ["T/0", "T/1", "T/2"]
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 3
    assert [c["task_id"] for c in read_records(tmp_path / "candidates" / "m.jsonl")] == [
        "T/1", "T/2"]
    # Without resume, everything runs again and the old records go.
    ran.clear()
    run_mode("m", tmp_path, "m", ["T/0"], False, one)
    assert ran == ["T/0"] and len(read_records(tmp_path / "m.jsonl")) == 1


def test_dates_come_from_the_first_summary(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "summary.json").write_text(json.dumps({"meta": {"date": "d1 to d2"}}))
    assert dates("d3", tmp_path / "a", tmp_path / "b") == "d1 to d3"
    assert dates("d3", tmp_path / "a") == "d3"
