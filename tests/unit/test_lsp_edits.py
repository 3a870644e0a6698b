"""A result as a workspace edit: only the lines that change, and the file it makes is the file the
result means (the function spliced in, its imports added, its helpers appended)."""

from __future__ import annotations

import pytest
from pygls.workspace import TextDocument

from tests.lsp.helpers import apply_edits
from verifix import code as pycode
from verifix.lsp import edits
from verifix.pipeline.result import Result

SOURCE = '''import os


class Box:
    def area(self, w, h):
        """Area of a w x h box — «ü»."""
        return w + h

    def other(self):
        return 1


def tail():
    return os.sep
'''


def plan(source: str, qualname: str, result: Result) -> list:
    doc = TextDocument("file:///m.py", source, version=3)
    fn = pycode.find_function(source, qualname)
    planned = edits.plan_edit(doc, source, 3, fn.text, qualname, result, confirm=False)
    (doc_edit,) = planned.edit.document_changes
    return doc_edit.edits


def result(code: str, **kw) -> Result:
    return Result("verified", "m.py", None, code, "ok", **kw)


def test_a_one_line_fix_is_one_line_edit():
    new = '''def area(self, w, h):
        """Area of a w x h box — «ü»."""
        return w * h'''
    (only,) = plan(SOURCE, "Box.area", result(new))
    assert (only.range.start.line, only.range.end.line) == (6, 7)
    assert only.new_text == "        return w * h\n"
    assert apply_edits(SOURCE, [only], "utf-16") == SOURCE.replace("w + h", "w * h")


def test_imports_helpers_and_a_last_function_make_the_file_the_result_means():
    new = '''def tail():
    """Joined."""
    return helper(os.sep) + str(math.pi)'''
    r = result(new, imports=["import math"], helpers=["def helper(s):\n    return s * 2"])
    got = apply_edits(SOURCE, plan(SOURCE, "tail", r), "utf-16")
    expected = pycode.add_imports(SOURCE, ["import math"]).replace(
        "def tail():\n    return os.sep\n",
        new + "\n\n\ndef helper(s):\n    return s * 2\n")
    assert got == expected
    # Untouched lines are not in any edit.
    spans = [(e.range.start.line, e.range.end.line) for e in plan(SOURCE, "tail", r)]
    assert all(not (s <= 4 < e) for s, e in spans), spans  # `def area` is left alone


@pytest.mark.parametrize("old, new", [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("a\nb\nc", "a\nb\nc\nd"),
    ("a\nb\nc\n", "c\n"),
    ("x\n", "x\ny\nz\n"),
    ("é\n𝄞\n", "é\n\n𝄞!\n"),
    ("", "new\n"),
])
def test_minimal_edits_rebuild_exactly_the_new_text(old, new):
    data = ("head\n" + old + "tail\n").encode("utf-8")
    start, end = len(b"head\n"), len(b"head\n") + len(old.encode("utf-8"))
    out = data
    spans = edits._minimal(data, start, end, new)
    for s, e, text in sorted(spans, reverse=True):
        out = out[:s] + text.encode("utf-8") + out[e:]
    assert out == data[:start] + new.encode("utf-8") + data[end:]
    assert all(start <= s <= e <= end + 1 for s, e, _ in spans)
    assert len(spans) <= 2  # each case changes one run of lines (two where both ends move)
