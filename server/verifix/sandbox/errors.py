"""Errors raised by the sandbox layer."""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox itself failed (could not start its worker, was closed, ...)."""


class SandboxUnavailable(SandboxError):
    """No usable isolation on this machine; the message says how to fix it in one line."""
