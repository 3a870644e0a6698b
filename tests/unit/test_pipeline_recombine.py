from verifix.pipeline.recombine import recombined_inputs


def test_crosses_arguments_of_two_argument_examples():
    calls = ["is_simple_power(1, 4)", "is_simple_power(2, 2)", "is_simple_power(8, 2)"]
    got = recombined_inputs(calls, limit=10)
    assert "is_simple_power(1, 2)" in got and "is_simple_power(8, 4)" in got
    assert not set(got) & set(calls)
    assert len(got) == len(set(got))


def test_joins_lists_and_strings_of_one_argument_examples():
    assert recombined_inputs(["f([1, 2])", "f([3])"]) == ["f([1, 2, 3])"]
    assert recombined_inputs(["g('ab')", "g('c')", "g(3)"]) == ["g('abc')"]


def test_nothing_to_recombine():
    assert recombined_inputs([]) == []
    assert recombined_inputs(["f(1)", "f(2)"]) == []  # numbers are not joined
    assert recombined_inputs(["f()"]) == []
    assert recombined_inputs(["f(x=1)", "not a call ("]) == []


def test_limit_keeps_both_kinds():
    calls = ["h([1], 'a')", "h([2], 'b')", "h([3], 'c')"]
    got = recombined_inputs(calls, limit=2)
    assert got == ["h([1], 'b')", "h([1, 2], 'a')"]
