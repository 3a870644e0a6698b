"""Repair in real project layouts: the project's own virtualenv (a dependency verifix's
environment lacks, its own pytest), src layout with an editable install, pytest configuration,
conftest fixtures, class-based, unittest and parametrised tests. Scripted model replies, the real
sandbox, and afterwards the project's own `python -m pytest` as the judge."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.projectenv import make_venv, run_pytest, site_packages
from verifix.config import Settings
from verifix.engine import ScriptedEngine
from verifix.pipeline.jobs import execute, prepare
from verifix.pipeline.targets import apply_result
from verifix.pipeline.task import TaskError

SHARES = textwrap.dedent('''
    from money import cents


    def split(total, n):
        """Split `total` into `n` integer shares that add up to `total`."""
        return [total // n] * n
''')
SHARES_TESTS = textwrap.dedent('''
    from money import cents
    from shares import split


    def test_adds_up():
        assert sum(split(cents(0.10), 3)) == 10


    def test_even():
        assert split(9, 3) == [3, 3, 3]
''')
SPLIT_FIXED = ("```python\ndef split(total, n):\n    base, extra = divmod(total, n)\n"
               "    return [base + 1] * extra + [base] * (n - extra)\n```")
MONEY = "def cents(amount):\n    return round(amount * 100)\n"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def repair(target: str, sandbox, replies: list[str], python: str = "", root: Path | None = None):
    task, src = prepare("repair", target, sandbox, python=python, root=root)
    queue = list(replies)
    engine = ScriptedEngine(lambda _prompt: queue.pop(0) if queue else "no idea")
    return execute("repair", task, Settings(), engine, sandbox), task, src


@pytest.fixture
def venv_project(tmp_path):
    """A project whose tests need `money`, installed only in the project's own .venv."""
    root = tmp_path / "proj"
    write(root, {"pyproject.toml": "[project]\nname = 'shares'\nversion = '0'\n",
                 "shares.py": SHARES, "tests/test_shares.py": SHARES_TESTS})
    python = make_venv(root / ".venv", modules={"money/__init__.py": MONEY})
    return root, python


def test_the_projects_own_venv_runs_the_tests_and_the_fix_lands(venv_project, sandbox):
    root, python = venv_project
    ours = subprocess.run([sys.executable, "-c", "import money"], capture_output=True)
    assert ours.returncode != 0, "verifix's environment must not have the project's dependency"
    before = run_pytest(python, root)
    assert "1 failed, 1 passed" in before.stdout
    # No python setting: found as .venv/ in the project.
    result, task, src = repair(f"{root}/tests/test_shares.py::test_adds_up", sandbox,
                               [SPLIT_FIXED])
    assert task.python is not None and task.python.path == str(python)
    assert result.status == "verified", result.message
    apply_result(result, task, src)
    after = run_pytest(python, root)
    assert "2 passed" in after.stdout, after.stdout


def test_without_the_project_interpreter_the_dependency_is_missing(venv_project, sandbox):
    root, _python = venv_project
    # The control: verifix's own interpreter cannot even import the test file.
    with pytest.raises(TaskError, match="does not run: .*No module named 'money'"):
        prepare("repair", f"{root}/tests/test_shares.py::test_adds_up", sandbox,
                python=sys.executable)


def test_an_interpreter_without_pytest_is_one_line_and_nothing_runs(tmp_path, sandbox):
    root = tmp_path / "proj"
    write(root, {"pyproject.toml": "", "shares.py": SHARES.replace("from money import cents", ""),
                 "test_shares.py": "from shares import split\n\ndef test_x():\n"
                                   "    assert sum(split(10, 3)) == 10\n"})
    python = make_venv(root / ".venv", pytest=False)
    with pytest.raises(TaskError) as caught:
        prepare("repair", f"{root}/test_shares.py::test_x", sandbox)
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"pytest is not installed for {python}: run `{python} -m pip install pytest`"


def test_a_python_setting_that_does_not_exist_is_one_line(tmp_path, sandbox):
    write(tmp_path, {"pyproject.toml": "", "m.py": "def f():\n    return 1\n",
                     "test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 2\n"})
    with pytest.raises(TaskError, match=r"^the python setting names .*/\.venv/bin/python, which "
                                        r"does not exist$"):
        prepare("repair", f"{tmp_path}/test_m.py::test_f", sandbox, python=".venv/bin/python")


def test_a_test_file_that_does_not_import_is_one_line(tmp_path, sandbox):
    write(tmp_path, {"pyproject.toml": "", "m.py": "def f():\n    return 1\n",
                     "test_m.py": "from m import f\nimport not_installed_anywhere\n\n"
                                  "def test_f():\n    assert f() == 2\n"})
    with pytest.raises(TaskError) as caught:
        prepare("repair", f"{tmp_path}/test_m.py::test_f", sandbox, python=sys.executable)
    assert "\n" not in str(caught.value)
    assert "No module named 'not_installed_anywhere'" in str(caught.value)


COUNT = textwrap.dedent('''
    def count_words(text):
        """The number of words in text (split on whitespace)."""
        return len(text.split(" "))
''')
COUNT_FIXED = "```python\ndef count_words(text):\n    return len(text.split())\n```"


def test_src_layout_with_an_editable_install_tests_the_copy(tmp_path, sandbox):
    """The venv finds the package through a .pth naming the project's own src/: the fix is
    only seen if the copy sits where the project is."""
    root = tmp_path / "proj"
    write(root, {
        "pyproject.toml": """
            [project]
            name = "words"
            version = "0"
            [tool.pytest.ini_options]
            testpaths = ["tests"]
        """,
        "src/words/__init__.py": "",
        "src/words/count.py": COUNT,
        "tests/conftest.py": """
            import pytest

            @pytest.fixture
            def sentence():
                return "two  spaces"
        """,
        "tests/test_count.py": """
            import pytest
            from words.count import count_words


            class TestCount:
                def test_fixture(self, sentence):
                    assert count_words(sentence) == 2

                def test_one(self):
                    assert count_words("one") == 1


            @pytest.mark.parametrize("text, n", [("a b", 2), ("a  b", 2)])
            def test_cases(text, n):
                assert count_words(text) == n
        """,
    })
    python = make_venv(root / ".venv")
    (site_packages(root / ".venv") / "words.pth").write_text(f"{root / 'src'}\n")
    assert "2 failed, 2 passed" in run_pytest(python, root).stdout
    result, task, src = repair(f"{root}/tests/test_count.py::TestCount::test_fixture", sandbox,
                               [COUNT_FIXED])
    assert task.oracle_test == "tests/test_count.py::TestCount::test_fixture"
    assert task.module_relpath == "src/words/count.py"
    assert result.status == "verified", result.message
    result, task, src = repair(f"{root}/tests/test_count.py::test_cases[a  b-2]", sandbox,
                               [COUNT_FIXED])
    assert task.oracle_test == "tests/test_count.py::test_cases[a  b-2]"
    assert result.status == "verified", result.message
    apply_result(result, task, src)
    assert "4 passed" in run_pytest(python, root).stdout


def test_weak_mode_points_an_editable_install_at_the_copy(tmp_path):
    """Without bubblewrap the copy cannot sit at the project's path: the .pth entries that
    name the project are pointed at the copy instead, or no fix would ever be seen."""
    from verifix.sandbox import Sandbox

    root = tmp_path / "proj"
    write(root, {"pyproject.toml": "[project]\nname = 'words'\nversion = '0'\n",
                 "src/words/__init__.py": "", "src/words/count.py": COUNT,
                 "tests/test_count.py": """
                     from words.count import count_words


                     def test_two():
                         assert count_words("a  b") == 2
                 """})
    python = make_venv(root / ".venv")
    (site_packages(root / ".venv") / "words.pth").write_text(f"{root / 'src'}\n")
    with Sandbox(timeout_s=5, memory_mb=1024, force_weak=True) as weak:
        assert weak.isolation == "weak"
        result, _task, _src = repair(f"{root}/tests/test_count.py::test_two", weak, [COUNT_FIXED])
    assert result.status == "verified", result.message
    assert (root / "src/words/count.py").read_text() == COUNT  # nothing written unasked
    assert "1 failed" in run_pytest(python, root).stdout


def test_unittest_testcase_methods_are_repaired(tmp_path, sandbox):
    write(tmp_path, {
        "setup.cfg": "[tool:pytest]\npythonpath = lib\n",
        "lib/textutil.py": COUNT,
        "tests/test_unit.py": """
            import unittest
            from textutil import count_words


            class CountTest(unittest.TestCase):
                def test_double_space(self):
                    self.assertEqual(count_words("a  b"), 2)

                def test_single(self):
                    self.assertEqual(count_words("a b"), 2)
        """,
    })
    result, task, _src = repair(f"{tmp_path}/tests/test_unit.py::CountTest::test_double_space",
                                sandbox, [COUNT_FIXED], python=sys.executable)
    assert task.project_tests == ["tests/test_unit.py::CountTest::test_double_space",
                                  "tests/test_unit.py::CountTest::test_single"]
    assert result.status == "verified", result.message


SHOP_CART = """
    from shop.prices import price_of


    def total(lines):
        \"\"\"The sum of the lines' prices; each line is "name: price".\"\"\"
        return sum(price_of(line) for line in lines)
"""


def shop(root: Path, parse_body: str) -> None:
    """A shop whose cart test reaches `parse_amount` (body `parse_body`) two calls below."""
    write(root, {
        "pyproject.toml": "[project]\nname = 'shop'\nversion = '0'\n",
        "shop/__init__.py": "",
        "shop/cart.py": SHOP_CART,
        "shop/prices.py": f"""
            def parse_amount(text):
                \"\"\"The amount in a price text such as "3.50" or "2".\"\"\"
                {parse_body}


            def price_of(line):
                \"\"\"The price of one "name: price" line.\"\"\"
                return parse_amount(line.split(":")[1].strip())
        """,
        "tests/test_cart.py": """
            from shop.cart import total


            def test_whole():
                assert total(["tea: 2", "jam: 3"]) == 5


            def test_cents():
                assert total(["tea: 2.5", "jam: 1.25"]) == 3.75
        """,
    })


def test_a_bug_in_a_helper_two_calls_below_is_fixed_in_the_helper(tmp_path, sandbox):
    shop(tmp_path, "return int(text)")
    prices = (tmp_path / "shop" / "prices.py").read_text()
    fix = "```python\ndef parse_amount(text):\n    return float(text)\n```"
    result, task, src = repair(f"{tmp_path}/tests/test_cart.py::test_cents", sandbox, [fix],
                               python=sys.executable)
    assert (task.module_relpath, task.qualname) == ("shop/prices.py", "parse_amount")
    assert result.status == "verified", result.message
    apply_result(result, task, src)
    assert (tmp_path / "shop" / "prices.py").read_text() == prices.replace(
        "return int(text)", "return float(text)")
    assert sandbox.run_project_tests(tmp_path, {}, ["tests"]).passed


def test_a_wrong_value_from_a_helper_two_calls_below_is_fixed_in_the_helper(tmp_path, sandbox):
    """No traceback frame names the helper (the test's assert fails): repair sees the
    functions the code under test calls, and its fix of the helper lands in the helper's file
    alone, with the target's file untouched."""
    shop(tmp_path, "return int(float(text))")
    prices = (tmp_path / "shop" / "prices.py").read_text()
    prompts: list[str] = []

    def reply(text: str) -> str:
        prompts.append(text)
        return "```python\ndef parse_amount(text):\n    return float(text)\n```"

    task, src = prepare("repair", f"{tmp_path}/tests/test_cart.py::test_cents", sandbox,
                        python=sys.executable)
    assert (task.module_relpath, task.qualname) == ("shop/cart.py", "total")
    assert [r.key for r in task.related] == ["shop/prices.py::price_of",
                                            "shop/prices.py::parse_amount"]
    settings = Settings().merged({"pipeline": {"repairRewrites": False}})
    result = execute("repair", task, settings, ScriptedEngine(reply), sandbox)
    assert "def parse_amount(text):" in prompts[0] and "# in shop/prices.py" in prompts[0]
    assert result.status == "verified", result.message
    assert result.changes == [{"file": str(tmp_path / "shop" / "prices.py"),
                               "function": "parse_amount",
                               "code": "def parse_amount(text):\n    return float(text)\n"}]
    written = apply_result(result, task, src)
    assert written == [tmp_path / "shop" / "prices.py"]
    assert (tmp_path / "shop" / "cart.py").read_text() == textwrap.dedent(SHOP_CART)
    assert (tmp_path / "shop" / "prices.py").read_text() == prices.replace(
        "return int(float(text))", "return float(text)")
    assert sandbox.run_project_tests(tmp_path, {}, ["tests"]).passed


def test_a_multi_file_fix_is_all_or_nothing_when_a_file_changed(tmp_path, sandbox):
    write(tmp_path, {
        "pyproject.toml": "",
        "a.py": "from b import inner\n\n\ndef outer(x):\n    return inner(x) + 1\n",
        "b.py": "def inner(x):\n    return x * 3\n",
        "test_a.py": "from a import outer\n\n\ndef test_outer():\n    assert outer(2) == 5\n",
    })
    task, src = prepare("repair", f"{tmp_path}/test_a.py::test_outer", sandbox,
                        python=sys.executable)
    fix = "```python\ndef inner(x):\n    return x * 2\n```"
    result = execute("repair", task, Settings(), ScriptedEngine(lambda _p: fix), sandbox)
    assert result.status == "verified", result.message
    (tmp_path / "b.py").write_text("def inner(x):\n    return x * 3  # edited meanwhile\n")
    before = (tmp_path / "a.py").read_text()
    from verifix.pipeline.targets import ApplyError

    with pytest.raises(ApplyError, match=r"b\.py changed since it was read; not applied"):
        apply_result(result, task, src)
    assert (tmp_path / "a.py").read_text() == before
    assert not list(tmp_path.glob(".*.verifix.tmp"))


def test_a_module_saved_while_the_baseline_ran_is_refused(tmp_path, sandbox):
    """Else the user's new text would become the job's "original", and a fix written for the
    old text would replace the user's own fix."""
    write(tmp_path, {"pyproject.toml": "", "m.py": "def f():\n    return 1\n",
                     "test_m.py": "from m import f\n\n\ndef test_f():\n    assert f() == 2\n"})

    class EditsDuringTheRun:
        isolation = sandbox.isolation

        def run_project_tests(self, *args, **kwargs):
            report = sandbox.run_project_tests(*args, **kwargs)
            (tmp_path / "m.py").write_text("def f():\n    return 2  # the user's own fix\n")
            return report

    with pytest.raises(TaskError, match=r"m\.py changed while its tests ran; run the repair "
                                        r"again$"):
        prepare("repair", f"{tmp_path}/test_m.py::test_f", EditsDuringTheRun(),
                python=sys.executable)
