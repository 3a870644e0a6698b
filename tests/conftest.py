"""Shared fixtures. The real embedded model is loaded once per test session."""

from __future__ import annotations

import os
import sys

import pytest

# The projects the tests make have no virtualenv of their own: their tests run with this
# interpreter, which has pytest (commands and servers started by the tests inherit this).
os.environ["VERIFIX_PYTHON"] = sys.executable

# The fixtures that load the real model: a test that uses one, even through another fixture,
# is slow. Tests that load it some other way (the CLI in a subprocess) are marked by hand.
MODEL_FIXTURES = frozenset({"real_engine", "real_model_path"})


@pytest.hookimpl(tryfirst=True)  # before `-m 'not slow'` deselects by the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def real_model_path():
    """The embedded default model, assembled and sha256-verified (./dev test fetches it)."""
    from verifix import models

    return models.resolve(models.DEFAULT_MODEL).path


@pytest.fixture(scope="session")
def real_engine(real_model_path):
    from verifix.engine.llama import LlamaCppEngine

    engine = LlamaCppEngine(real_model_path, n_ctx=4096, seed=0)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def sandbox():
    """One real sandbox (bubblewrap boundary, warm worker) shared by the session."""
    from verifix.sandbox import Sandbox

    with Sandbox(timeout_s=5, memory_mb=1024) as sb:
        yield sb
