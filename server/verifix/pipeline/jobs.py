"""One generate or repair job: the user's target -> a Task -> the pipeline -> a Result.

Shared by the CLI and the language server, so both run exactly the same pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifix.cancel import CancelToken
from verifix.config import Settings
from verifix.engine.base import Engine, EngineError
from verifix.pipeline.events import Event, EventSink, ignore
from verifix.pipeline.fix_test import build_repair_task, repair_test
from verifix.pipeline.result import Result
from verifix.pipeline.run import Options, generate
from verifix.pipeline.targets import ApplyError, SourceFile, apply_result, generate_task
from verifix.pipeline.task import Task, TaskError


def prepare(kind: str, target: str, sandbox: Any, cancel: CancelToken | None = None,
            root: Path | None = None) -> tuple[Task, SourceFile]:
    """Read the target into a Task (no model needed); bad input raises TaskError (one line)."""
    if kind == "generate":
        return generate_task(target, root)
    return build_repair_task(target, sandbox, cancel, root)


def execute(kind: str, task: Task, settings: Settings, engine: Engine, sandbox: Any,
            events: EventSink = ignore, cancel: CancelToken | None = None) -> Result:
    options = Options.from_settings(settings.pipeline, seed=settings.seed)
    if kind == "generate":
        return generate(task, engine, sandbox, options, events, cancel)
    return repair_test(task, engine, sandbox, options, events, cancel)


def run_job(kind: str, target: str, settings: Settings, engine: Engine, sandbox: Any,
            events: EventSink = ignore, cancel: CancelToken | None = None,
            root: Path | None = None) -> tuple[Result, Task | None, SourceFile | None]:
    """Build the task and run it; bad input becomes an `error` Result, never an exception."""
    try:
        task, src = prepare(kind, target, sandbox, cancel, root)
    except TaskError as exc:
        return error_result(target, str(exc)), None, None
    return execute(kind, task, settings, engine, sandbox, events, cancel), task, src


def error_result(target: str, message: str) -> Result:
    file, _, name = target.partition("::")
    return Result(status="error", file=file or None, function=name or None, code="",
                  message=message)
