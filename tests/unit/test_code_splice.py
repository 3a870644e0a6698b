"""verifix.code: splice (replace only the function's text), add_imports, module_context."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from verifix import code as py

SOURCE = '''"""Module doc."""
import os
from typing import List  # comment

# 🎉 non-ASCII before the function: 中文
LIMIT = 10


@cache
def top(x):
    """Return x doubled.

    >>> top(2)
    4
    """
    ...


class Shape:
    """A shape."""

    sides = 0

    @property
    def area(self):
        raise NotImplementedError

    def name(self):
        return "shape"\t# a tab in a comment


def tail():
    return 1
'''


def outside(source: str, fn: py.FunctionInfo, result: str) -> tuple[bytes, bytes, bytes, bytes]:
    """(before, after) of the original and of the result around the function's range."""
    data, out = source.encode(), result.encode()
    after_len = len(data) - fn.end_byte
    return data[:fn.start_byte], out[:fn.start_byte], data[fn.end_byte:], out[len(out) - after_len:]


def assert_only_function_changed(source: str, fn: py.FunctionInfo, result: str) -> str:
    before, out_before, after, out_after = outside(source, fn, result)
    assert out_before == before
    assert out_after == after
    ast.parse(result)
    data = result.encode()
    return data[fn.start_byte:len(data) - len(after)].decode()


def test_splice_top_level_keeps_decorator_docstring_and_every_other_byte():
    fn = py.find_function(SOURCE, "top")
    out = py.splice(SOURCE, fn, "def top(x):\n    return x * 2\n")
    new = assert_only_function_changed(SOURCE, fn, out)
    assert new == ('@cache\ndef top(x):\n    """Return x doubled.\n\n    >>> top(2)\n    4\n'
                   '    """\n    return x * 2')
    # the result still has the function, the docstring unchanged
    again = py.find_function(out, "top")
    assert again.docstring == fn.docstring and again.decorators == ["cache"]
    assert not again.is_stub


def test_splice_method_reindents_and_keeps_decorator():
    fn = py.find_function(SOURCE, "Shape.area")
    code = "def area(self):\n    total = 0\n    for s in range(self.sides):\n        total += s\n" \
           "    return total\n"
    out = py.splice(SOURCE, fn, code)
    new = assert_only_function_changed(SOURCE, fn, out)
    assert new == ("@property\n    def area(self):\n        total = 0\n"
                   "        for s in range(self.sides):\n            total += s\n"
                   "        return total")
    assert py.find_function(out, "Shape.area").decorators == ["property"]


def test_splice_new_decorators_replace_old_and_indented_input_is_accepted():
    fn = py.find_function(SOURCE, "Shape.area")
    code = "    @functools.cached_property\n    def area(self):\n        return 0\n"
    out = py.splice(SOURCE, fn, code)
    new = assert_only_function_changed(SOURCE, fn, out)
    assert new == "@functools.cached_property\n    def area(self):\n        return 0"


def test_splice_new_docstring_wins_and_keep_docstring_false_drops_it():
    fn = py.find_function(SOURCE, "top")
    out = py.splice(SOURCE, fn, 'def top(x):\n    """New doc."""\n    return 2 * x\n')
    assert py.find_function(out, "top").docstring == "New doc."
    out = py.splice(SOURCE, fn, "def top(x):\n    return 2 * x\n", keep_docstring=False)
    assert py.find_function(out, "top").docstring is None
    assert_only_function_changed(SOURCE, fn, out)


def test_splice_one_line_body_gets_the_docstring_on_its_own_line():
    fn = py.find_function(SOURCE, "top")
    out = py.splice(SOURCE, fn, "def top(x): return x + x")
    new = assert_only_function_changed(SOURCE, fn, out)
    assert new.startswith('@cache\ndef top(x):\n    """Return x doubled.')
    assert new.endswith('    """\n    return x + x')


def test_splice_does_not_change_multiline_string_contents():
    fn = py.find_function(SOURCE, "Shape.name")
    code = 'def name(self):\n    return """a\nb\n  c"""\n'
    out = py.splice(SOURCE, fn, code)
    new = assert_only_function_changed(SOURCE, fn, out)
    assert new == 'def name(self):\n        return """a\nb\n  c"""'
    namespace: dict = {}
    exec(compile(out.replace("@cache", "").replace("@property", ""), "m", "exec"), namespace)
    assert namespace["Shape"]().name() == "a\nb\n  c"


def test_splice_accepts_a_fenced_reply_and_crlf():
    fn = py.find_function(SOURCE, "tail")
    out = py.splice(SOURCE, fn, "Here:\r\n```python\r\ndef tail():\r\n    return 2\r\n```\r\n")
    assert assert_only_function_changed(SOURCE, fn, out) == "def tail():\n    return 2"


def test_splice_relocates_a_function_that_moved_and_refuses_when_it_changed():
    fn = py.find_function(SOURCE, "tail")
    moved = "# a new first line\n" + SOURCE
    out = py.splice(moved, fn, "def tail():\n    return 3\n")
    assert out.startswith("# a new first line\n") and out.endswith("def tail():\n    return 3\n")
    changed = SOURCE.replace("return 1", "return 42")
    try:
        py.splice(changed, fn, "def tail():\n    return 3\n")
    except ValueError as exc:
        assert "tail" in str(exc)
    else:
        raise AssertionError("splice applied an edit to a function that changed")


def test_splice_nested_function_and_tabs():
    source = "def outer():\n\tdef inner(a):\n\t\tpass\n\treturn inner\n"
    fn = py.find_function(source, "outer.inner")
    assert fn.indent == "\t"
    out = py.splice(source, fn, "def inner(a):\n    return a + 1\n")
    assert out == "def outer():\n\tdef inner(a):\n\t    return a + 1\n\treturn inner\n"
    namespace: dict = {}
    exec(out, namespace)
    assert namespace["outer"]()(1) == 2


def test_add_imports_after_existing_block_skipping_present_names():
    out = py.add_imports(SOURCE, ["import math", "from typing import List, Dict", "import os",
                                  "from __future__ import annotations"])
    lines = out.split("\n")
    assert lines[1:6] == ["import os", "from typing import List  # comment", "import math",
                          "from typing import Dict", ""]
    assert out.replace("import math\nfrom typing import Dict\n", "") == SOURCE
    assert py.add_imports(SOURCE, ["import os", "from typing import List"]) == SOURCE


def test_add_imports_without_imports_block():
    assert py.add_imports("x = 1\n", ["import math"]) == "import math\n\nx = 1\n"
    assert py.add_imports('"""Doc."""\nx = 1\n', ["import math"]) == \
        '"""Doc."""\n\nimport math\n\nx = 1\n'
    assert py.add_imports("#!/usr/bin/env python\nx = 1\n", ["import re"]) == \
        "#!/usr/bin/env python\nimport re\n\nx = 1\n"
    assert py.add_imports("", ["import re"]) == "import re\n"


def test_module_context_lists_usable_names_without_bodies():
    source = SOURCE + '''

def helper(a, b):
    """Combine a and b."""
    x = a
    y = b
    return x + y


def test_something():
    assert tail() == 1
'''
    fn = py.find_function(source, "tail")
    ctx = py.module_context(source, fn)
    assert "import os" in ctx and "from typing import List" in ctx
    assert "LIMIT = 10" in ctx
    assert "def top(x):" in ctx and '"""Return x doubled.' in ctx and "@cache" in ctx
    assert "class Shape:" in ctx and "def area(self):" in ctx and "sides = 0" in ctx
    assert "def helper(a, b):" in ctx and "return x + y" not in ctx  # bodies are not shown
    assert "def tail" not in ctx  # not the function itself
    assert "test_something" not in ctx
    assert len(ctx.split("\n")) <= 60


def test_module_context_shows_short_helpers_the_function_names_and_is_bounded():
    many = "\n".join(f"def f{i}(a):\n    '''Doc {i}.'''\n    return a\n\n" for i in range(80))
    source = ("import math\n\n" + many + "def encode(s):\n    return s[::-1]\n\n\n"
              "def decode(s):\n    '''Inverse of encode.'''\n")
    fn = py.find_function(source, "decode")
    ctx = py.module_context(source, fn)
    lines = ctx.rstrip("\n").split("\n")
    assert len(lines) <= 60
    assert "import math" in ctx
    assert "def encode(s):\n    return s[::-1]" in ctx  # named in the docstring, short: whole
    assert lines[-1].startswith("# ...") and "more module-level definitions" in lines[-1]


def test_module_context_for_a_method_shows_its_class_skeleton():
    fn = py.find_function(SOURCE, "Shape.name")
    ctx = py.module_context(SOURCE, fn)
    assert "class Shape:" in ctx and "def area(self):" in ctx
    assert "def name" not in ctx


def test_splice_method_keeps_a_multi_line_docstring_byte_for_byte():
    source = ('class A:\n    def m(self, x):\n        """Do it.\n\n        Twice.\n        """\n'
              '        pass\n')
    fn = py.find_function(source, "A.m")
    out = py.splice(source, fn, "def m(self, x):\n    return x * 2\n")
    assert out == ('class A:\n    def m(self, x):\n        """Do it.\n\n        Twice.\n'
                   '        """\n        return x * 2\n')
    assert py.find_function(out, "A.m").docstring == fn.docstring == "Do it.\n\nTwice."


def test_splice_docstring_after_leading_imports_is_not_duplicated():
    source = 'def f(grid):\n    import math\n    """Doc."""\n'
    fn = py.find_function(source, "f")
    out = py.splice(source, fn, 'def f(grid):\n    import math\n    """Doc."""\n    return 1\n')
    assert out.count('"""Doc."""') == 1
    out = py.splice(source, fn, "def f(grid):\n    return 2\n")
    assert out == 'def f(grid):\n    """Doc."""\n    return 2\n'


@pytest.mark.parametrize("module", ["textwrap", "_collections_abc", "string"])
def test_splice_round_trip_on_stdlib_modules(module):
    """Splicing each function's own text back (plus a comment at the end of its body) changes
    nothing but that comment: decorators, docstrings, nesting and indentation survive."""
    path = inspect.getsourcefile(importlib.import_module(module))
    source = Path(path).read_text(encoding="utf-8")
    functions = py.list_functions(source)
    assert len(functions) > 10
    for fn in functions:
        marker = f"{fn.indent}    # spliced"
        out = py.splice(source, fn, fn.text + "\n" + marker)
        assert out.replace("\n" + marker, "", 1) == source, fn.qualname
        assert py.splice(source, fn, fn.text) == source
