"""Test hook only: a ScriptedEngine described by a JSON file (VERIFIX_TEST_SCRIPTED_ENGINE).

The file:
  {
    "delay_s": 0.0,            seconds per scripted token (cancellation tests)
    "load_delay_s": 0.0,       how long "loading the model" takes
    "load_error": "",          non-empty: loading fails with this message
    "rules": [{"contains": "different test calls", "replies": ["..."]}, ...],
    "default": ["..."]         replies for prompts no rule matches
  }
Each queue answers in order and repeats its last reply once it is down to one.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from verifix.engine.base import EngineError
from verifix.engine.scripted import ScriptedEngine


def load_scripted_engine(path: str) -> ScriptedEngine:
    spec: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    time.sleep(float(spec.get("load_delay_s", 0.0)))
    if spec.get("load_error"):
        raise EngineError(str(spec["load_error"]))
    rules = [(str(r["contains"]), list(r["replies"])) for r in spec.get("rules", [])]
    default = list(spec.get("default", []))
    lock = threading.Lock()

    def pop(queue: list[str]) -> str:
        if not queue:
            return "I cannot do that."
        return queue[0] if len(queue) == 1 else queue.pop(0)

    def respond(prompt: str) -> str:
        with lock:
            for needle, queue in rules:
                if needle in prompt:
                    return pop(queue)
            return pop(default)

    return ScriptedEngine(respond, delay_s=float(spec.get("delay_s", 0.0)))
