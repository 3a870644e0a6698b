from verifix.code.same_logic import logic_key


def test_renamed_copies_share_a_key():
    a = 'def f(xs):\n    """Doc."""\n    best = max(xs)\n    return [x for x in xs if x == best]\n'
    b = ("def f(items):\n    # the largest\n    top = max(items)\n"
         "    return [i for i in items if i == top]\n")
    assert logic_key(a) == logic_key(b)


def test_different_logic_keeps_apart():
    base = "def f(xs):\n    return max(xs)\n"
    assert logic_key(base) != logic_key("def f(xs):\n    return min(xs)\n")  # globals stay
    assert logic_key(base) != logic_key("def f(xs):\n    return max(xs) + 0\n")
    real, imag = "def f(x):\n    return x.real\n", "def f(x):\n    return x.imag\n"
    assert logic_key(real) != logic_key(imag)


def test_unparseable_code_keys_as_itself():
    assert logic_key("def f(:\n") == "def f(:\n"
