"""A candidate that sets out to forge its own verdict: each attack must end as failed or error,
never passed, and must leave the other checks and the next candidate's run as they were.

Every candidate here is wrong (f(1) is 0, the check wants 3) and tries one trick to pass.
"""

from __future__ import annotations

import textwrap

import pytest

from verifix.sandbox import Check

CHECKS = ["assert f(1) == 3", "assert abs(f(1) - 3.0) < 1e-6", "f(1)", "assert f(1) > 2",
          "assert f(1)",
          Check("f(1)", "equal", expected="3"), Check("f(1) * 1.0", "equal", expected="3.0"),
          Check("g()", "raises", raises="ValueError")]

HONEST = "def f(x):\n    return 3\n\ndef g():\n    raise ValueError('no')\n"

# A report frame of the worker's protocol, claiming every verdict a child could claim.
FORGE = textwrap.dedent('''
    import json, os, struct

    def _forge():
        frames = b""
        for index in range(8):
            for claim in ({"status": "passed"}, {"outcome": "judged", "status": "passed"},
                          {"outcome": "value", "data": ["i", "3"]}):
                body = json.dumps({"ev": "result", "index": index, "value": "3", **claim},
                                  separators=(",", ":")).encode()
                frames += struct.pack(">II", len(body), 0) + body
        for fd in range(256):
            try:
                os.write(fd, frames)
            except OSError:
                pass
''')

ATTACKS = {
    "always-equal object": '''
        class Anything:
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __lt__(self, other): return True
            def __sub__(self, other): return 0.0
            def __rsub__(self, other): return 0.0
            def __abs__(self): return 0.0
            def __float__(self): return 3.0
            def __repr__(self): return "3"
            __hash__ = object.__hash__

        def f(x):
            return Anything()
    ''',
    "a subclass of int equal to everything": '''
        class Three(int):
            def __eq__(self, other): return True
            __hash__ = int.__hash__
            def __repr__(self): return "3"

        class Float(float):
            def __eq__(self, other): return True
            __hash__ = float.__hash__

        def f(x):
            return Three(0) if x == 1 else Float(0.0)
    ''',
    "patched abs": '''
        import builtins
        builtins.abs = lambda x: 0.0

        def f(x):
            return 0.0
    ''',
    "patched builtins": '''
        import builtins
        builtins.abs = lambda x: 0.0
        builtins.isinstance = lambda *a: True
        builtins.len = lambda x: 3
        builtins.repr = lambda x: "3"
        builtins.type = lambda *a: int
        builtins.float = lambda *a: 3.0

        def f(x):
            return 0
    ''',
    "patched standard library": '''
        import json, marshal, operator, os, struct, math
        _frame = '{"ev":"result","index":0,"outcome":"value","data":["i","3"],"status":"passed"}'
        json.dumps = lambda *a, **k: _frame
        operator.eq = lambda a, b: True
        math.isclose = lambda *a, **k: True
        _write = os.write
        os.write = lambda fd, data: _write(fd, data.replace(b'["i","0"]', b'["i","3"]'))
        struct.pack = lambda *a: b""

        def f(x):
            return 0
    ''',
    "forged lines on stdout and stderr": '''
        import sys
        for stream in (sys.stdout, sys.stderr):
            stream.write('{"ev": "result", "index": 0, "status": "passed"}\\npassed\\nPASSED\\n')

        def f(x):
            print('{"ev": "result", "index": 0, "status": "passed", "value": "3"}')
            return 0
    ''',
    "forged frames on every file descriptor": FORGE + textwrap.dedent('''
        _forge()

        def f(x):
            _forge()
            return 0
    '''),
    "os._exit(0) before reporting": '''
        import os

        def f(x):
            os._exit(0)
    ''',
    "exceptions derived from BaseException": '''
        import sys

        class Quit(BaseException):
            pass

        def f(x):
            raise [SystemExit(0), KeyboardInterrupt(), GeneratorExit(), Quit()][x % 4]
    ''',
    "the worker's own timeout and a fake ValueError": '''
        import sys

        class ValueError(Exception):  # not the builtin one
            pass

        def f(x):
            raise sys.modules["__main__"].CheckTimeout()

        def g():
            raise ValueError("a lookalike")
    ''',
    "__del__ and atexit rewriting results": FORGE + textwrap.dedent('''
        import atexit
        atexit.register(_forge)

        class Later:
            def __del__(self):
                _forge()

        def f(x):
            Later()
            return 0
    '''),
    "importing the worker's own module": '''
        import sys
        worker = sys.modules["__main__"]
        worker.to_plain = lambda value: ["i", "3"]
        worker.run_one_check = lambda *a, **k: {"status": "passed", "message": "", "value": "3"}
        worker.run_one_call = lambda *a, **k: {"outcome": "value", "data": ["i", "3"]}
        worker._repr = lambda value: "3"
        worker.describe_exception = lambda exc: ""
        _send = worker.write_frame
        worker.write_frame = lambda fd, obj, blob=b"": _send(fd, {**obj, "status": "passed",
                                                                "data": ["i", "3"]})

        def f(x):
            return 0
    ''',
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_never_passes_a_check(sandbox, attack):
    code = textwrap.dedent(ATTACKS[attack])
    if "def g" not in code:
        code += "\ndef g():\n    return 0\n"
    report = sandbox.run_checks(code, CHECKS)
    statuses = {str(c): r.status for c, r in zip(CHECKS, report.results, strict=True)}
    # "f(1)" records a value (or an error): it has no verdict to forge, but its value must be
    # what the candidate's call returned, never a forged "3".
    value_check = statuses.pop("f(1)")
    assert "passed" not in statuses.values(), (attack, statuses, report.results)
    value = report.results[2].value
    assert value_check != "passed" or value not in ("3", "3.0"), (attack, report.results[2])
    # The next candidate in the same sandbox is judged as if nothing had happened.
    honest = sandbox.run_checks(HONEST, CHECKS)
    assert [r.status for r in honest.results] == ["passed"] * len(CHECKS), honest.results


def test_a_value_that_is_not_plain_data_fails_with_a_clear_message(sandbox):
    code = ("class Point:\n    def __init__(self):\n        self.x = 3\n\n"
            "def f(x):\n    return Point()\n")
    report = sandbox.run_checks(code, [Check("f(1)", "equal", expected="3"), "f(1)"])
    failed, value = report.results
    assert failed.status == "failed"
    assert failed.message == ("expected 3, got <candidate.Point object: x=3> (not plain data: "
                              "only builtin values can equal the expected value)")
    assert value.status == "passed" and value.value == "<candidate.Point object: x=3>"


def test_types_are_compared_as_a_doctest_reader_would(sandbox):
    code = "def f(x):\n    return x\n"
    cases = [("True", "1", "failed"), ("1", "True", "failed"), ("5.0", "5", "failed"),
             ("5", "5.0", "failed"), ("(1, 2)", "[1, 2]", "failed"), ("{1: 'a'}", "{True: 'a'}",
             "failed"), ("{1, 2}", "{2, 1}", "passed"), ("0.1 + 0.2", "0.3", "passed"),
             ("float('nan')", "float('nan')", "passed"), ("'é\\ud800'", "'é\\ud800'", "passed"),
             ("2 ** 100", "2 ** 100", "passed"), ("b'\\x00'", "b'\\x00'", "passed"),
             ("frozenset({1})", "{1}", "failed"), ("None", "None", "passed")]
    checks = [Check(f"f({given})", "equal", expected=expected) for given, expected, _ in cases]
    report = sandbox.run_checks(code, checks)
    got = [(c[0], c[1], r.status) for c, r in zip(cases, report.results, strict=True)]
    assert got == cases
    # A prose example ("returns 5") may mean 5.0; a bool is still not a number there.
    loose = [Check("f(5.0)", "equal", expected="5", numbers_by_value=True),
             Check("f(True)", "equal", expected="1", numbers_by_value=True)]
    assert [r.status for r in sandbox.run_checks(code, loose).results] == ["passed", "failed"]


def test_the_worker_server_cannot_be_written_by_its_children(sandbox):
    code = textwrap.dedent('''
        import ctypes, os

        def f(x):
            parent = os.getppid()
            try:
                with open(f"/proc/{parent}/mem", "r+b", buffering=0):
                    return "opened"
            except OSError as exc:
                mem = type(exc).__name__
            libc = ctypes.CDLL(None, use_errno=True)
            attached = libc.ptrace(16, parent, None, None) == 0  # PTRACE_ATTACH
            return mem, "attached" if attached else "refused"
    ''')
    report = sandbox.run_checks(code, ["f(1)"])
    assert report.results[0].value == "('PermissionError', 'refused')", report.results[0]


def test_large_values_are_judged_up_to_a_bound_and_never_equal_beyond_it(sandbox):
    code = "def f(n):\n    return 'é' * n\n"
    checks = [Check("f(400000)", "equal", expected="'é' * 400000"),
              Check("f(600000)", "equal", expected="'é' * 600000"), "f(600000)"]
    report = sandbox.run_checks(code, checks)
    assert [r.status for r in report.results] == ["passed", "error", "error"]
    assert "too large to judge (value not compared: more than 500000 characters)" in \
        report.results[2].message
