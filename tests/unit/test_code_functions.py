"""verifix.code: finding functions (tree-sitter), stubs, syntax errors, positions."""

from __future__ import annotations

import pytest

from verifix import code as py

SOURCE = '''"""Module doc."""
import os
from typing import List

# 🎉 emoji and 中文 before the functions: byte, code point and UTF-16 columns differ
GREETING = "héllo 😀"


def plain(a, b=2, *args, c, **kw):
    """Add things.

    >>> plain(1, c=3)
    3
    """
    return a + b


@decorator
@other(1, 2)
async def fetch(url: str) -> bytes:
    ...


class Calc:
    """A calculator."""

    factor = 2

    def add(self, x, y):
        pass

    @staticmethod
    def sub(x, y):
        raise NotImplementedError("later")

    def mul(self, x, y):
        def inner(z):
            return z * 2
        return inner(x) * y


def stub_doc_only():
    """Only a docstring."""


def stub_raise():
    """Doc."""
    raise NotImplementedError


def not_stub_pass_and_more():
    pass
    return 1


def multi_line_header(
    first: int,
    second: int = 3,
) -> int:
    return first + second


class TestCalc:
    def test_add(self):
        assert Calc().add(1, 2) == 3

    def helper(self):
        return 1


def test_plain():
    assert plain(1, c=1) == 3
'''


def by_name(source: str = SOURCE) -> dict[str, py.FunctionInfo]:
    return {f.qualname: f for f in py.list_functions(source)}


def line_of(needle: str, source: str = SOURCE) -> int:
    return next(i for i, line in enumerate(source.split("\n")) if needle in line)


def test_list_functions_finds_everything_with_qualnames():
    names = [f.qualname for f in py.list_functions(SOURCE)]
    assert names == [
        "plain", "fetch", "Calc.add", "Calc.sub", "Calc.mul", "Calc.mul.inner", "stub_doc_only",
        "stub_raise", "not_stub_pass_and_more", "multi_line_header", "TestCalc.test_add",
        "TestCalc.helper", "test_plain",
    ]


def test_plain_function_fields():
    f = py.find_function(SOURCE, "plain")
    assert f is not None
    assert f.name == "plain" and f.class_name is None and not f.is_async
    assert f.params == ["a", "b", "*args", "c", "**kw"]
    assert f.signature == "def plain(a, b=2, *args, c, **kw):"
    assert f.docstring == "Add things.\n\n>>> plain(1, c=3)\n3"
    assert f.indent == ""
    assert f.start_line == f.def_line == line_of("def plain")
    assert SOURCE.split("\n")[f.end_line] == "    return a + b"
    data = SOURCE.encode()
    assert data[f.start_byte:f.end_byte].decode() == f.text
    assert f.text.startswith("def plain(") and f.text.endswith("return a + b")
    assert data[f.docstring_start_byte:f.docstring_end_byte].decode().startswith('"""Add')
    assert data[f.body_start_byte:f.body_end_byte].decode().startswith('"""Add things.')
    assert not f.is_stub and not f.is_test


def test_decorated_async_function_includes_decorator_lines():
    f = py.find_function(SOURCE, "fetch")
    assert f is not None
    assert f.is_async and f.decorators == ["decorator", "other(1, 2)"]
    assert f.text.startswith("@decorator\n@other(1, 2)\nasync def fetch")
    assert f.start_line == line_of("@decorator") and f.def_line == f.start_line + 2
    assert f.signature == "async def fetch(url: str) -> bytes:"
    assert SOURCE.encode()[f.def_start_byte:].startswith(b"async def fetch")
    assert f.is_stub


def test_methods_and_nested_functions():
    fs = by_name()
    add, sub, inner = fs["Calc.add"], fs["Calc.sub"], fs["Calc.mul.inner"]
    assert add.class_name == "Calc" and add.indent == "    " and add.is_method
    assert add.params == ["self", "x", "y"] and add.positional_params == ["x", "y"]
    assert sub.decorators == ["staticmethod"] and sub.text.startswith("@staticmethod\n    def sub")
    assert inner.class_name is None and inner.indent == "        "
    assert inner.scopes == [("class", "Calc"), ("def", "mul")]
    assert py.find_function(SOURCE, "Calc.mul.inner").text == inner.text
    # Python's own qualname spelling and a unique bare method name are accepted too
    assert py.find_function(SOURCE, "Calc.mul.<locals>.inner").qualname == "Calc.mul.inner"
    assert py.find_function(SOURCE, "inner").qualname == "Calc.mul.inner"
    assert py.find_function(SOURCE, "nope") is None
    assert py.find_function(SOURCE, "Calc.nope") is None


def test_multi_line_signature():
    f = py.find_function(SOURCE, "multi_line_header")
    assert f.signature == ("def multi_line_header(\n    first: int,\n    second: int = 3,\n"
                           ") -> int:")
    assert f.params == ["first", "second"] and not f.is_stub


@pytest.mark.parametrize("qualname, stub", [
    ("fetch", True),  # ...
    ("Calc.add", True),  # pass
    ("Calc.sub", True),  # raise NotImplementedError("later")
    ("stub_doc_only", True),  # only a docstring
    ("stub_raise", True),  # docstring + raise NotImplementedError
    ("plain", False),
    ("Calc.mul", False),
    ("not_stub_pass_and_more", False),
    ("multi_line_header", False),
])
def test_stub_detection(qualname, stub):
    assert py.find_function(SOURCE, qualname).is_stub is stub


@pytest.mark.parametrize("body, stub", [
    ("    ...", True),
    ("    pass", True),
    ("    raise NotImplementedError", True),
    ("    raise NotImplementedError()", True),
    ("    '''Doc.'''\n    ...", True),
    ("    # just a comment\n    pass", True),
    ("    import math\n    '''Doc (after an import, as HumanEval/115 has it).'''", True),
    ("    '''Doc.'''\n    pass\n    pass", False),
    ("    raise ValueError('no')", False),
    ("    return None", False),
    ("    '''Doc.'''\n    return 1", False),
    ("    x = ...", False),
])
def test_stub_kinds(body, stub):
    f = py.find_function(f"def f():\n{body}\n", "f")
    assert f is not None and f.is_stub is stub


def test_is_test():
    fs = by_name()
    assert fs["TestCalc.test_add"].is_test and fs["test_plain"].is_test
    assert not fs["TestCalc.helper"].is_test and not fs["Calc.add"].is_test
    source = "class Helper:\n    def test_x(self):\n        pass\n"
    assert not py.find_function(source, "Helper.test_x").is_test


def test_redefinition_last_one_wins():
    source = "def f():\n    return 1\n\n\ndef f():\n    return 2\n"
    assert py.find_function(source, "f").text.endswith("return 2")


def test_function_at_innermost():
    lines = SOURCE.split("\n")
    inner_body = line_of("return z * 2")
    assert py.function_at(SOURCE, inner_body, 12).qualname == "Calc.mul.inner"
    mul_body = line_of("return inner(x) * y")
    assert py.function_at(SOURCE, mul_body, 4).qualname == "Calc.mul"
    # on a decorator line, and at the very end of the last line (inclusive)
    assert py.function_at(SOURCE, line_of("@other(1, 2)"), 0).qualname == "fetch"
    end = line_of("return a + b")
    assert py.function_at(SOURCE, end, len(lines[end].encode())).qualname == "plain"
    # between functions and in the class body: nothing / nothing
    assert py.function_at(SOURCE, line_of("factor = 2"), 4) is None
    assert py.function_at(SOURCE, line_of("GREETING"), 0) is None


def test_syntax_error_elsewhere_tree_sitter_recovers():
    source = "import os\nx = = 2\n\ndef f(a):\n    '''Doc.'''\n    return a\n\ndef g(:\n    pass\n"
    f = py.find_function(source, "f")
    assert f is not None and not f.has_error and f.docstring == "Doc."
    assert f.text == "def f(a):\n    '''Doc.'''\n    return a"


def test_syntax_error_that_swallows_the_rest_of_the_file():
    # An unclosed bracket makes tree-sitter give up on everything after it; functions that
    # parse cleanly on their own are still found (cut out by indentation, parsed alone).
    source = (
        "import os\n"
        "x = foo(1,\n"
        "\n"
        "class A:\n"
        "    @property\n"
        "    def f(self, y):\n"
        '        """Doc\n'
        'line two"""\n'
        "        return (y +\n"
        "                1)\n"
        "\n"
        "    def g(self):\n"
        "        return 2\n"
        "\n"
        "def broken(:\n"
        "    pass\n"
        "\n"
        "async def k(a):\n"
        "    return a\n"
    )
    fs = by_name(source)
    assert set(fs) == {"A.f", "A.g", "k"}
    f = fs["A.f"]
    assert f.decorators == ["property"] and f.class_name == "A" and f.indent == "    "
    assert f.docstring == "Doc\nline two" and f.start_line == 4 and f.end_line == 9
    assert source.encode()[f.start_byte:f.end_byte].decode() == f.text
    assert fs["k"].is_async and fs["k"].text == "async def k(a):\n    return a"
    assert py.function_at(source, 12, 8).qualname == "A.g"


def test_function_being_typed_has_an_empty_body():
    source = "def done():\n    return 1\n\ndef todo(x):\n"
    f = py.find_function(source, "todo")
    assert f is not None and f.is_stub and f.signature == "def todo(x):"


# --- positions ---------------------------------------------------------------------------------

LINE = 'x = "😀中" + f(1)'  # 😀: 4 UTF-8 bytes, 2 UTF-16 units; 中: 3 bytes, 1 unit


def test_column_conversions_non_ascii():
    f_byte = LINE.encode().index(b"f(")
    assert f_byte == 16
    assert py.byte_col_to_utf16(LINE, f_byte) == 12
    assert py.byte_col_to_codepoint(LINE, f_byte) == 11
    assert py.utf16_col_to_byte(LINE, 12) == 16
    assert py.codepoint_col_to_byte(LINE, 11) == 16
    # round trips at every character boundary
    for cp in range(len(LINE) + 1):
        b = py.codepoint_col_to_byte(LINE, cp)
        assert py.byte_col_to_codepoint(LINE, b) == cp
        u = py.byte_col_to_utf16(LINE, b)
        assert py.utf16_col_to_byte(LINE, u) == b
    # inside the emoji: UTF-16 column 6 is its second surrogate -> rounds down to its start
    assert py.utf16_col_to_byte(LINE, 6) == 5
    assert py.byte_col_to_utf16(LINE, 7) == 5  # a byte inside the emoji rounds down too
    # past the end clamps
    assert py.utf16_col_to_byte(LINE, 999) == len(LINE.encode())
    assert py.codepoint_col_to_byte(LINE, 999) == len(LINE.encode())


def test_offsets_and_positions_with_non_ascii_before_the_function():
    source = "# 🎉 中文\ns = '😀'\ndef g():\n    return s  # é\n"
    data = source.encode()
    f = py.find_function(source, "g")
    assert f.start_line == 2 and f.start_byte == data.index(b"def g")
    assert py.position_of(source, f.start_byte) == (2, 0)
    ret = data.index(b"return")
    assert py.position_of(source, ret) == (3, 4)
    assert py.offset_of(source, 3, 4) == ret
    # the LSP case: a UTF-16 column on a line with an emoji, converted through this module
    line1 = source.split("\n")[1]
    byte_col = py.utf16_col_to_byte(line1, 5)
    assert line1.encode()[:byte_col].decode() == "s = '"
    byte_col = py.utf16_col_to_byte(line1, 7)
    assert line1.encode()[:byte_col].decode() == "s = '😀"
    # clamping: past the end of a line -> its end; past the last line -> end of text
    assert py.offset_of(source, 1, 999) == data.index(b"\ndef")
    assert py.offset_of(source, 99, 0) == len(data)
    assert py.position_of(source, len(data) + 5) == (4, 0)
    # function_at takes UTF-8 byte columns: the comment after "return s" is inside g
    col = len("    return s  # é".encode())
    assert py.function_at(source, 3, col).qualname == "g"


def test_parse_accepts_parsed_module_and_caches():
    mod = py.parse(SOURCE)
    assert py.parse(mod) is mod
    assert py.parse(SOURCE) is mod  # small LRU cache keyed by the text
    assert [f.qualname for f in py.list_functions(mod)] == [
        f.qualname for f in py.list_functions(SOURCE)]
    assert not mod.has_error


def test_fallback_ignores_code_inside_strings():
    source = (
        "x = foo(1,\n"
        "\n"
        "def real():\n"
        '    """Usage:\n'
        "\n"
        "    def sample(y):\n"
        "        return y\n"
        '    """\n'
        "    return 1\n"
    )
    assert [f.qualname for f in py.list_functions(source)] == ["real"]
