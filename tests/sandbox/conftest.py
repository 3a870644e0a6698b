"""Fixtures for the sandbox tests: one strong sandbox per module, a loopback listener."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sandbox_helpers import STRONG, Listener

from verifix.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    if not STRONG:
        pytest.skip("bubblewrap does not work on this machine")
    with Sandbox(timeout_s=3, memory_mb=512, force_weak=False) as sb:
        assert sb.isolation == "strong"
        yield sb


@pytest.fixture
def tcp_listener() -> Iterator[Listener]:
    listener = Listener(socket.AF_INET, ("127.0.0.1", 0))
    yield listener
    listener.close()
