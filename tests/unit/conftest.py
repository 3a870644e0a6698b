"""tests/unit/ holds only tests that need neither the model nor the sandbox: collection fails
on any other, so the fast command (`pytest -m 'not slow'`) and this folder stay what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NOT_HERE = frozenset({"sandbox", "real_engine", "real_model_path"})


# Before -k/-m deselect any of them, and so before tests/conftest.py marks the model fixtures
# slow: hence the fixtures are read here, not only the mark.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    wrong = []
    for item in items:
        if HERE not in item.path.parents:
            continue
        why = []
        used = sorted(NOT_HERE & set(getattr(item, "fixturenames", ())))
        if used:
            why.append(f"uses {', '.join(used)}")
        if item.get_closest_marker("slow"):
            why.append("is marked slow")
        if why:
            wrong.append(f"{item.nodeid} {' and '.join(why)}")
    if wrong:
        raise pytest.UsageError(
            "tests/unit/ is for tests that need neither the model nor the sandbox; move these "
            "to a folder that says what they need (tests/cli/, tests/e2e/, ...):\n  "
            + "\n  ".join(wrong))
