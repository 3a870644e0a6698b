"""verifix.code: docstring examples -> checks (each form, and the ones that must be dropped)."""

from __future__ import annotations

import inspect

import pytest

from tests.checkjudge import judge_here
from verifix import code as py
from verifix.sandbox.checks import Check


def pairs(doc: str, name: str = "f", params: list[str] | None = None) -> list[tuple]:
    return [(e.call, e.expected) for e in py.docstring_examples(inspect.cleandoc(doc), name,
                                                                 params)]


def test_doctest_forms():
    doc = '''Doc.

    >>> f(1)
    2
    >>> f([1,
    ...    2])
    [2,
     3]
    >>> f('a') == 'b'
    True
    >>> f(0)

    >>> f("text")
    printed words, not a value
    >>> print(f(3))
    4
    >>> print(f('s'))
    t
    '''
    assert pairs(doc) == [
        ("f(1)", "2"),
        ("f([1, 2])", "[2, 3]"),
        ("f('a')", "'b'"),
        ("f(0)", "None"),  # doctest: no output means the call returned None
        ("f('text')", None),  # kept as an input, never checked against a value
        ("f(3)", "4"),
        ("f('s')", None),  # print() hides a string's quotes: not comparable
    ]


def test_doctest_setup_exceptions_ellipsis_and_skip():
    doc = '''
    >>> c = make(3)
    >>> f(c)
    9.0
    >>> f(None)
    Traceback (most recent call last):
      ...
    mod.BadInput: no
    >>> f(make(2))  # doctest: +ELLIPSIS
    [4, ...]
    >>> f(make(5))  # doctest: +SKIP
    25
    >>> other(1)
    1
    '''
    examples = py.docstring_examples(inspect.cleandoc(doc), "f")
    assert [(e.call, e.expected, e.raises, e.setup) for e in examples] == [
        ("f(c)", "9.0", None, ["c = make(3)"]),
        ("f(None)", None, "BadInput", ["c = make(3)"]),
        ("f(make(2))", None, None, ["c = make(3)"]),
    ]
    checks = py.example_checks(examples)
    assert len(checks) == 2
    assert checks[0] == Check("f(c)", "equal", expected="9.0", setup="c = make(3)\n")
    assert checks[1] == Check("f(None)", "raises", setup="c = make(3)\n", raises="BadInput")


def test_doctest_method_calls_and_malformed_doctests():
    doc = '''
    >>> calc = Calc()
    >>> calc.add(1, 2)
    3
    >>> add(
    ...   1,
    2)
    >>> add(2, 2)
    4
    '''
    examples = py.docstring_examples(inspect.cleandoc(doc), "add")
    assert [(e.call, e.expected) for e in examples] == [("calc.add(1, 2)", "3"),
                                                         ("add(2, 2)", "4")]


@pytest.mark.parametrize("line, expected", [
    ("f(2) == 4", ("f(2)", "4")),
    ("f(2) ➞ 4", ("f(2)", "4")),
    ("f(2) => 4", ("f(2)", "4")),
    ("f(2) ==> 4", ("f(2)", "4")),
    ("f(2) -> 4", ("f(2)", "4")),
    ("f(2) = 4", ("f(2)", "4")),
    ("f(2) # => 4", ("f(2)", "4")),
    ("f(2)   # returns 4", ("f(2)", "4")),
    ("f(2) returns 4", ("f(2)", "4")),
    ("f(2) should return 4.", ("f(2)", "4")),
    ("f(2) should\n    return 4 and f(3) should return 9", ("f(2)", "4")),
    ("examples: f(2) is 4", ("f(2)", "4")),
    ("* f(2) => 4 (two squared)", ("f(2)", "4")),
    ("for f(2) == 4", ("f(2)", "4")),
    ("f(2)==>True", ("f(2)", "True")),
    ("f(2) => true", ("f(2)", "True")),
    ("f('x') -> 'y'. Then more prose", ("f('x')", "'y'")),
    ("f([1, 2]) == [1, 2] # no change", ("f([1, 2])", "[1, 2]")),
    ("f(5) -> 19 - 5 - 6 = 8", ("f(5)", "19 - 5 - 6")),
    ("f(2.5) == 6.25", ("f(2.5)", "6.25")),
    ("f({'a': 1}) == {'a': 2}", ("f({'a': 1})", "{'a': 2}")),
])
def test_free_text_forms(line, expected):
    assert pairs(line, params=["x"])[0] == expected


def test_free_text_bare_words_are_strings_but_parameter_names_are_not():
    assert pairs("is_happy(abcd) => True\nis_happy(a) => False", name="is_happy",
                 params=["s"]) == [("is_happy('abcd')", "True"), ("is_happy('a')", "False")]
    assert pairs("f(x) = 4", params=["x"]) == []
    assert pairs("f(x, 2) = 4", params=["s", "n"]) == [("f('x', 2)", "4")]
    assert pairs("f(DEFAULT) => 4\nf(my_list) => 5", params=["s"]) == []


@pytest.mark.parametrize("line", [
    "f(x) == x * x",  # free names: a definition, not an example
    "f(n) -> f(n-1) + f(n-2)",
    "f(2) is not None",
    "f(2) should return True if the list is sorted",
    "f(2) == 4 + y",
    'f(["a"]) == ""aaa"',  # a typo in the expected value: dropped, never half-read
    "f(...) returns 1",
    "f(1, 2, 3) == 6",  # more arguments than the function takes
    "g(2) == 4",  # another function
    "self.f(2) == 4",
    "f(2) -> [1, 2",  # unbalanced
    "calling f(2) is fine",
])
def test_free_text_that_must_not_become_a_check(line):
    assert pairs(line, params=["x"]) == []


def test_for_and_input_output_forms():
    doc = '''
    For lst = [1,2,3] the output should be 6
    For lst = [1, 2], k = 3, the output should be [4, 5].
    For N = 1000, the sum of digits will be 1 the output should be "1".
    For num = "AB" the output should be 1.

    Example 1:
        Input: lst = [-3, -4, 5], k = 3
        Output: [-4, -3, 5]
    Example 2: Input: lst = [4, -4, 4], k = 2  Output: [4, 4]
    Example 3:
        Input:
            lst : [[0, 1], [1, 1]]
            bucket : 2
        Output: 3
    Example 4:
        Input: [5, 0]
        Output: [0, 1]
        Explanation: prose, ignored.
    '''
    assert pairs(doc, "g", ["lst", "k"]) == [
        ("g([1, 2, 3])", "6"),
        ("g([1, 2], 3)", "[4, 5]"),
        # "For N = 1000" / "For num = ...": not parameters of g(lst, k), one value for two
        ("g([-3, -4, 5], 3)", "[-4, -3, 5]"),
        ("g([4, -4, 4], 2)", "[4, 4]"),
        ("g([[0, 1], [1, 1]], 2)", "3"),  # "bucket" is not a parameter: by position
        ("g([5, 0])", "[0, 1]"),
    ]


def test_for_form_with_prose_between_input_and_output():
    doc = """
    For N = 1000, the sum of digits will be 1 the output should be "1".
    For num = "AB" the output should be 1.
    """
    assert pairs(doc, "g", ["N", "base"]) == [("g(1000)", "'1'")]  # base has a default
    # one parameter, named differently in the prose: the value goes by position
    assert pairs(doc, "g", ["num"]) == [("g(1000)", "'1'"), ("g('AB')", "1")]
    assert pairs(doc, "g") == [("g(1000)", "'1'"), ("g('AB')", "1")]


def test_input_forms_check_arity_with_params():
    doc = "For a = 1, b = 2 the output should be 3"
    assert pairs(doc, "g", ["a", "b"]) == [("g(1, 2)", "3")]
    assert pairs(doc, "g", ["b", "a"]) == [("g(2, 1)", "3")]  # keyword names order the call
    assert pairs(doc, "g", ["only"]) == []  # two values for one parameter
    assert pairs("For z = 1 the output should be 3", "g", ["a", "b"]) == []
    assert pairs(doc, "g") == [("g(1, 2)", "3")]  # no params known: as written


def test_assignment_then_return_form():
    doc = '''
    For example:
      arr = [2, 1, 1]
            -> sort arr -> [1, 1, 2]
      return ["Two", "One", "One"]

      arr = []
      return []
    '''
    assert pairs(doc, "by_length", ["arr"]) == [("by_length([2, 1, 1])", "['Two', 'One', 'One']"),
                                               ("by_length([])", "[]")]
    assert pairs(doc, "by_length") == []  # needs the parameter names


def test_multi_line_call_and_long_value():
    doc = '''
    get_row([
      [1,2,3],
      [1,2,1]
    ], 1) == [(0, 0), (1, 2),
              (1, 0)]
    '''
    assert pairs(doc, "get_row") == [("get_row([[1, 2, 3], [1, 2, 1]], 1)",
                                      "[(0, 0), (1, 2), (1, 0)]")]


def test_example_checks_shapes():
    examples = [
        py.Example("f(1)", "2", "doctest", 0),
        py.Example("f(2)", "None", "doctest", 1),
        py.Example("f(3)", "-0.5", "example", 2),
        py.Example("f(4)", "[0.0, 0.25, 1]", "example", 3),
        py.Example("f(5)", "(2.0, 2.2)", "example", 4),
        py.Example("f(6)", None, "doctest", 5),  # no value: no check
        py.Example("f(7)", "1 + 2", "example", 6),
        py.Example("f(8)", "[1.5, 'a']", "example", 7),
    ]
    checks = py.example_checks(examples)
    assert [str(c) for c in checks] == [
        "assert f(1) == 2", "assert f(2) == None", "assert f(3) == -0.5",
        "assert f(4) == [0.0, 0.25, 1]", "assert f(5) == (2.0, 2.2)", "assert f(7) == 1 + 2",
        "assert f(8) == [1.5, 'a']"]
    assert [c.numbers_by_value for c in checks] == [False, False, True, True, True, True, True]

    def run(check: Check, fn) -> bool:
        return judge_here(check, {"f": fn}).status == "passed"

    assert run(checks[0], lambda x: 2) and not run(checks[0], lambda x: 2.0)  # a doctest's 2
    assert not run(checks[0], lambda x: True) and not run(checks[0], lambda x: "2")
    assert run(checks[2], lambda x: -0.5 + 1e-9) and not run(checks[2], lambda x: -0.4)
    assert run(checks[3], lambda x: [0.0, 0.25 + 1e-12, 1.0]) and not run(checks[3], lambda x: [0])
    assert not run(checks[4], lambda x: [2.0, 2.2])  # a list is not the tuple asked for
    assert run(checks[1], lambda x: None) and not run(checks[1], lambda x: 0)
    assert run(checks[5], lambda x: 3.0)  # prose: 3 may stand for 3.0, but never True
    assert not run(checks[5], lambda x: True)


def test_function_examples_uses_parameter_names():
    source = '''
def fill(grid, capacity):
    """Fill.

    Input: grid = [[1]], capacity = 1
    Output: 1
    """
'''
    fn = py.find_function(source, "fill")
    assert [(e.call, e.expected) for e in py.function_examples(fn)] == [("fill([[1]], 1)", "1")]


def test_function_examples_of_a_method_need_an_object():
    source = '''
class Box:
    def fill(self, grid, capacity):
        """Fill.

        fill([[1]], 1) == 1

        >>> box = Box()
        >>> box.fill([[1]], 2)
        2
        """
'''
    fn = py.find_function(source, "Box.fill")
    examples = py.function_examples(fn)
    assert [(e.call, e.expected, e.setup) for e in examples] == [
        ("box.fill([[1]], 2)", "2", ["box = Box()"])]
