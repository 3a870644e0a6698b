"""One generate or repair job: the user's target -> a Task -> the pipeline -> a Result.

Shared by the CLI and the language server, so both run exactly the same pipeline.
"""

from __future__ import annotations

from pathlib import Path

from verifix.cancel import CancelToken
from verifix.config import Settings
from verifix.engine.base import Engine
from verifix.pipeline.events import EventSink, ignore
from verifix.pipeline.generate import Generate
from verifix.pipeline.repair_test import RepairTest
from verifix.pipeline.result import Result
from verifix.pipeline.targets import SourceFile, generate_task, repair_task
from verifix.pipeline.task import Task, TaskError
from verifix.sandbox.base import Runner


def prepare(kind: str, target: str, sandbox: Runner, cancel: CancelToken | None = None,
            root: Path | None = None, python: str = "") -> tuple[Task, SourceFile]:
    """Read the target into a Task (no model needed); bad input raises TaskError (one line).
    `python`: the python setting (the interpreter for the project's tests)."""
    if kind == "generate":
        return generate_task(target, root, python)
    return repair_task(target, sandbox, cancel, root, python)


def execute(kind: str, task: Task, settings: Settings, engine: Engine, sandbox: Runner,
            events: EventSink = ignore, cancel: CancelToken | None = None) -> Result:
    run = Generate if kind == "generate" else RepairTest
    return run(task, engine, sandbox, settings.pipeline, settings.seed, events, cancel).run()


def run_job(kind: str, target: str, settings: Settings, engine: Engine, sandbox: Runner,
            events: EventSink = ignore, cancel: CancelToken | None = None,
            root: Path | None = None) -> tuple[Result, Task | None, SourceFile | None]:
    """Build the task and run it; bad input becomes an `error` Result, never an exception."""
    try:
        task, src = prepare(kind, target, sandbox, cancel, root, settings.python)
    except TaskError as exc:
        return error_result(target, str(exc)), None, None
    return execute(kind, task, settings, engine, sandbox, events, cancel), task, src


def error_result(target: str, message: str) -> Result:
    file, _, name = target.partition("::")
    return Result(status="error", file=file or None, function=name or None, code="",
                  message=message)
