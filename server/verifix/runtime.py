"""Build the engine and the sandbox a Settings asks for (the one place that knows every backend)."""

from __future__ import annotations

from verifix import models
from verifix.config import Settings
from verifix.engine.base import Engine, EngineError
from verifix.sandbox import Sandbox


def open_engine(settings: Settings, progress: models.Progress | None = None) -> Engine:
    """Load the configured model; ModelError/EngineError carry a one-line remedy."""
    if settings.backend == "openai":
        from verifix.engine.openai import OpenAIEngine

        if not settings.url:
            raise EngineError('backend "openai" needs a server URL: set url (or VERIFIX_URL)')
        model = "" if models.lookup(settings.model) else settings.model
        return OpenAIEngine(settings.url, model=model)
    from verifix.engine.llama import LlamaCppEngine

    resolved = models.resolve(settings.model, progress=progress)
    return LlamaCppEngine(
        resolved.path,
        n_ctx=settings.contextSize,
        n_threads=settings.threads,
        n_gpu_layers=settings.gpuLayers,
        seed=settings.seed,
        name=resolved.name,
    )


def open_sandbox(settings: Settings) -> Sandbox:
    """The sandbox with the configured limits; SandboxUnavailable says why it cannot start."""
    return Sandbox(timeout_s=settings.sandbox.timeout, memory_mb=settings.sandbox.memoryMb,
                   allow_weak=settings.sandbox.allowWeak)
