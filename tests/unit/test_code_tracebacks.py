"""Reading pytest's failure text: the frames, and the part a rewrite may see."""

from __future__ import annotations

from verifix.code import report_without_code, traceback_frames

DEEP = """tests/test_shares.py::test_adds_up failed:
def test_adds_up():
>       assert sum(split(cents(0.10), 3)) == 10
                   ^^^^^^^^^^^^^^^^^^^^^

tests/test_shares.py:7:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

total = 10, n = 3

    def split(total, n):
        if total % n != 0:
>           raise ValueError("Total must be divisible by n")
E           ValueError: Total must be divisible by n

shares.py:8: ValueError"""

IN_TEST = """tests/test_shares.py::test_adds_up failed:
def test_adds_up():
>       assert sum(split(cents(0.10), 3)) == 10
E       assert 9 == 10
E        +  where 9 = sum([3, 3, 3])
E        +    where [3, 3, 3] = split(10, 3)

tests/test_shares.py:7: AssertionError"""


def test_the_deepest_frame_is_last():
    assert [(f.path, f.line) for f in traceback_frames(DEEP)][-1] == ("shares.py", 8)


def test_the_report_keeps_the_assertion_and_the_error_but_not_the_code_under_test():
    report = report_without_code(DEEP)
    assert "assert sum(split(cents(0.10), 3)) == 10" in report
    assert "E           ValueError: Total must be divisible by n" in report
    assert report.endswith("shares.py:8: ValueError")
    assert "total % n" not in report and "def split" not in report


def test_an_assertion_in_the_test_keeps_the_values_pytest_shows():
    report = report_without_code(IN_TEST)
    assert "where [3, 3, 3] = split(10, 3)" in report and report == IN_TEST.strip()
    long = IN_TEST.replace("E       assert 9 == 10", "E       assert 9 == 10\n" + "x" * 3000)
    assert report_without_code(long, limit=500).endswith("tests/test_shares.py:7: AssertionError")
