"""One generate or repair job from start to finish: settings -> engine + sandbox -> Result.

Shared by the CLI (here) and the language server, so both run exactly the same pipeline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from verifix import models
from verifix.cancel import CancelToken
from verifix.config import Settings
from verifix.engine.base import Engine, EngineError
from verifix.pipeline.events import Event, EventSink, ignore
from verifix.pipeline.fix_test import build_repair_task, repair_test
from verifix.pipeline.result import Result
from verifix.pipeline.run import Options, generate
from verifix.pipeline.targets import ApplyError, SourceFile, apply_result, generate_task
from verifix.pipeline.task import Task, TaskError


def open_sandbox(settings: Settings) -> Any:
    from verifix.sandbox import Sandbox

    return Sandbox(timeout_s=settings.sandbox.timeout, memory_mb=settings.sandbox.memoryMb,
                   allow_weak=settings.sandbox.allowWeak)


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
        return _error(target, str(exc)), None, None
    return execute(kind, task, settings, engine, sandbox, events, cancel), task, src


def _error(target: str, message: str) -> Result:
    file, _, name = target.partition("::")
    return Result(status="error", file=file or None, function=name or None, code="",
                  message=message)


def _printer(quiet: bool) -> EventSink:
    if quiet:
        return ignore

    def show(event: Event) -> None:
        print(f"[{event.percent:3d}%] {event.phase:<10} {event.message}", file=sys.stderr)

    return show


def run_cli_job(kind: str, target: str, settings: Settings, *, as_json: bool, apply: bool,
                force: bool, quiet: bool) -> int:
    from verifix.runtime import open_engine
    from verifix.sandbox import SandboxError, SandboxUnavailable

    try:
        with open_sandbox(settings) as sandbox:
            # The target is read (and a failing test confirmed) before the model loads, so bad
            # input fails fast.
            try:
                task, src = prepare(kind, target, sandbox)
            except TaskError as exc:
                return _report(_error(target, str(exc)), as_json)
            try:
                engine = open_engine(settings)
            except (models.ModelError, EngineError) as exc:
                return _report(_error(target, str(exc)), as_json)
            try:
                result = execute(kind, task, settings, engine, sandbox,
                                 _printer(quiet or as_json))
            finally:
                engine.close()
    except (SandboxUnavailable, SandboxError) as exc:  # e.g. no isolation: one line too
        return _report(_error(target, str(exc)), as_json)
    applied = ""
    if apply and task is not None and src is not None and result.code:
        if result.status == "verified" or force:
            try:
                apply_result(result, task, src)
                applied = f"applied to {src.path}"
            except (ApplyError, TaskError, OSError) as exc:
                # The job worked but the edit was refused (e.g. the file changed meanwhile):
                # the user's file is untouched, and a script must notice.
                _report(result, as_json, f"not applied: {exc}")
                print(f"verifix: not applied: {exc}", file=sys.stderr)
                return 2
        else:
            applied = f"not applied: the result is {result.status} (use --force to apply anyway)"
    return _report(result, as_json, applied)


def _report(result: Result, as_json: bool, applied: str = "") -> int:
    if as_json:
        data = result.to_json()
        if applied:
            data["applied"] = applied
        print(json.dumps(data, indent=2))
    else:
        e = result.evidence
        print(f"{result.status.upper()}: {result.function or ''} — {result.message}")
        if result.code:
            print()
            print(result.code.rstrip())
            print()
            print(f"evidence: trusted checks {e.trusted_passed}/{e.trusted_total}, "
                  f"agreement {e.agreeing}/{e.considered} on {e.inputs} generated inputs, "
                  f"{e.candidates} candidates, {e.repairs} repairs; "
                  f"{result.prompt_tokens}+{result.completion_tokens} tokens, "
                  f"{result.seconds:.1f} s")
        if applied:
            print(applied)
    if result.status == "error":
        print(f"verifix: {result.message}", file=sys.stderr)
    return result.exit_code
