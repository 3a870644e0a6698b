"""verifix.code: reading code out of model replies (extract_function, extract_expressions)."""

from __future__ import annotations

import ast

from verifix import code as py

PROSE_AND_FENCE = '''Sure! To count the vowels we first normalise each word.

```python
import math
import os
from typing import Dict, List

VOWELS = set("aeiou")


def _count(word):
    return sum(1 for ch in word.lower() if ch in VOWELS)


def unused_helper():
    return os.getcwd()


def count_vowels(words: List[str]) -> int:
    """Count the vowels in all words."""
    total = sum(_count(w) for w in words)
    return total + math.floor(0.5)


result = count_vowels(["abc"])
if __name__ == "__main__":
    print(result)
```

This runs in O(n) time. Let me know if you need anything else!
'''


def test_prose_and_one_fence_with_helpers_constants_and_imports():
    e = py.extract_function(PROSE_AND_FENCE, "count_vowels")
    assert e is not None
    assert e.function.startswith("def count_vowels(words: List[str]) -> int:\n")
    assert e.function.rstrip().endswith("return total + math.floor(0.5)")
    assert e.imports == ["import math", "from typing import List"]  # only what is used
    assert e.helpers == ['VOWELS = set("aeiou")',
                         "def _count(word):\n    return sum(1 for ch in word.lower() if ch in "
                         "VOWELS)"]
    assert "unused_helper" not in e.code and "result =" not in e.code and "print" not in e.code
    namespace: dict = {}
    exec(e.code, namespace)  # self-contained
    assert namespace["count_vowels"](["Abe", "xyz"]) == 2


def test_two_fences_helper_in_the_first_and_a_test_fence_last():
    reply = '''First a helper:
```python
def square(x):
    return x * x
```
Then the function itself:
```py
def sum_squares(xs):
    return sum(square(x) for x in xs)
```
And a quick test:
```python
import pytest

def test_it():
    assert sum_squares([1, 2]) == 5
```
'''
    e = py.extract_function(reply, "sum_squares")
    assert e is not None
    assert e.function == "def sum_squares(xs):\n    return sum(square(x) for x in xs)\n"
    assert e.helpers == ["def square(x):\n    return x * x"] and e.imports == []
    assert e.code == ("def square(x):\n    return x * x\n\n\n"
                      "def sum_squares(xs):\n    return sum(square(x) for x in xs)\n")


def test_later_fence_wins_when_the_model_corrects_itself():
    reply = '''```python
def f(x):
    return x - 1
```
Oops, that is wrong. Corrected:
```python
def f(x):
    return x + 1
```'''
    assert py.extract_function(reply, "f").function == "def f(x):\n    return x + 1\n"


def test_missing_fence_bare_code_with_prose():
    reply = '''Here is the function:

def add(a, b):
    """Add."""
    return a + b

This function adds two numbers and returns the sum.
'''
    e = py.extract_function(reply, "add")
    assert e is not None and e.function == 'def add(a, b):\n    """Add."""\n    return a + b\n'
    # only code: parsed whole
    assert py.extract_function("def add(a, b):\n    return a + b\n", "add") is not None


def test_wrong_name_no_code_or_unparseable_code_gives_none():
    assert py.extract_function(PROSE_AND_FENCE, "count_consonants") is None
    assert py.extract_function("I cannot help with that.", "f") is None
    assert py.extract_function("", "f") is None
    assert py.extract_function("```python\ndef f(x:\n    return\n```", "f") is None
    # a fence in another language is not Python
    assert py.extract_function("```javascript\nfunction f(x) { return x; }\n```", "f") is None


def test_method_inside_a_class_and_decorators_and_async():
    reply = '''```python
import functools

class Solution:
    @functools.lru_cache(maxsize=None)
    def climb(self, n):
        return 1 if n < 2 else self.climb(n - 1) + self.climb(n - 2)
```'''
    e = py.extract_function(reply, "climb")
    assert e is not None
    assert e.function.startswith("@functools.lru_cache(maxsize=None)\ndef climb(self, n):\n")
    assert e.imports == ["import functools"]
    ast.parse(e.code)
    e = py.extract_function("```python\nasync def get(u):\n    return u\n```", "get")
    assert e is not None and e.function.startswith("async def get(u):")


def test_truncated_reply_keeps_the_complete_function():
    reply = '''```python
def f(x):
    return x + 1


def g(y):
    return (y +
'''
    e = py.extract_function(reply, "f")
    assert e is not None and e.function == "def f(x):\n    return x + 1\n"
    assert py.extract_function(reply, "g") is None


def test_strings_are_not_reindented():
    reply = '```python\n    def f():\n        return """a\n  b"""\n```'
    e = py.extract_function(reply, "f")
    namespace: dict = {}
    exec(e.code, namespace)
    assert namespace["f"]() == "a\n  b"


def test_extract_expressions_from_fences_and_bullets():
    reply = '''Here are some inputs:
```python
f(1, 2)
f([], 0)  # empty list
x = 3
f("a,b"),
# a comment
```
- `f(10, 20)` large values
- f(-1, -1)
- Example
1. f(0, 0)
2) f(0, 0)
Not a bullet: f(9, 9)
'''
    assert py.extract_expressions(reply) == ['f(1, 2)', 'f([], 0)', 'f("a,b")', 'f(10, 20)',
                                             'f(-1, -1)', 'f(0, 0)']
    assert py.extract_expressions("nothing here") == []
