"""Model engines: the resident local model, an OpenAI-compatible server, and a scripted one."""

from verifix.engine.base import (
    CancelToken,
    Completion,
    Engine,
    EngineError,
    EngineStats,
    Message,
    Prompt,
)
from verifix.engine.scripted import ScriptedEngine

__all__ = [
    "CancelToken",
    "Completion",
    "Engine",
    "EngineError",
    "EngineStats",
    "Message",
    "Prompt",
    "ScriptedEngine",
]
