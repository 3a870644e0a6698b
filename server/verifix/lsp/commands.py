"""The job commands (generate, repair, applyFix, cancel) and each job's life: queued, run in
verifix's own thread with progress and verifix/jobUpdate news, then its result applied as a safe
edit (verified), offered (not verified) or kept as a fix (background repairs)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from verifix import code as pycode
from verifix.cancel import Cancelled
from verifix.engine.base import EngineError
from verifix.lsp import edits
from verifix.lsp import protocol as P
from verifix.lsp.context import Context
from verifix.lsp.fixes import Fixes
from verifix.lsp.queue import Job
from verifix.lsp.status import Status
from verifix.pipeline.events import Event
from verifix.pipeline.jobs import error_result, execute, prepare
from verifix.pipeline.result import Result
from verifix.pipeline.targets import project_python
from verifix.pipeline.task import Task, TaskError, from_source

log = logging.getLogger(__name__)


class JobCommands:
    def __init__(self, ctx: Context, status: Status, fixes: Fixes) -> None:
        self.ctx = ctx
        self.status = status
        self.fixes = fixes
        self.queue = ctx.shared.queue
        self._results: dict[tuple[str, str], Result] = {}  # (uri, qualname) -> last result

    def register(self) -> None:
        self.ctx.command(P.GENERATE, self.generate)
        self.ctx.command(P.REPAIR, self.repair)
        self.ctx.command(P.APPLY_FIX, self.apply_fix)
        self.ctx.command(P.CANCEL, self.cancel)
        self.ctx.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL, self.progress_cancel)

    def last_result(self, uri: str, qualname: str) -> Result | None:
        return self._results.get((uri, qualname))

    # -- handlers ------------------------------------------------------------------------
    async def generate(self, args: P.GenerateArgs) -> P.JobOutcome:
        return await self.run("generate", args.uri, args.qualname)

    async def repair(self, args: P.RepairArgs) -> P.JobOutcome:
        return await self.run("repair", args.uri, args.qualname)

    async def apply_fix(self, args: P.ApplyFixArgs) -> P.JobOutcome:
        fix = self.fixes.get(args.fixId)
        if fix is None:
            return P.JobOutcome(args.fixId, "error", "no such fix (it may be stale)")
        outcome = P.JobOutcome(fix.id, fix.result.status, fix.result.message,
                               code=fix.result.code, evidence=fix.result.evidence.to_dict(),
                               fixId=fix.id)
        await self.apply(from_fs_path(fix.task.file or "") or "", fix.task, fix.result, outcome)
        if outcome.applied:
            self.fixes.discard(fix.id)
            self.status.notify()
        return outcome

    def cancel(self, ls: LanguageServer, args: P.CancelArgs | None = None) -> list[str]:
        # `ls` is there for pygls alone: it reads a command's first parameter as the server
        # or as a class, and `CancelArgs | None` is not a class.
        # A shared (--socket, --tcp) server: a window cancels its own jobs, never another window's.
        mine = [j for j in self.queue.active() if j.owner is self.ctx]
        if args is not None and args.jobId is not None:
            mine = [j for j in mine if j.id == args.jobId][:1]
        for job in mine:
            self.queue.cancel(job)
        return [j.id for j in mine]

    def progress_cancel(self, params: types.WorkDoneProgressCancelParams) -> None:
        job = self.queue.by_token(params.token)
        if job is not None:
            self.queue.cancel(job)

    def cancel_request(self, request_id: str | int) -> None:
        """$/cancelRequest: pygls cancels the request; the job behind it stops too."""
        job = self.queue.by_request(request_id)
        if job is not None:
            self.queue.cancel(job)

    def cancel_stale(self) -> list[tuple[str, str]]:
        """Cancel this window's background repairs whose code changed since they read it; the
        (test uri, test qualname) of each."""
        stale = [j for j in self.queue.active() if j.owner is self.ctx and j.background
                 and j.task is not None and j.task.changed_since(self.ctx.current_text)]
        for job in stale:
            self.queue.cancel(job)
        return [(j.uri, j.qualname) for j in stale]

    def release(self) -> None:
        """The window goes: its jobs stop."""
        for job in self.queue.active():
            if job.owner is self.ctx:
                self.queue.cancel(job)

    # -- one job -------------------------------------------------------------------------
    async def run(self, kind: str, uri: str, qualname: str,
                  background: bool = False) -> P.JobOutcome:
        ctx = self.ctx
        path = Path(to_fs_path(uri) or uri)
        job = Job(kind=kind, target=f"{path}::{qualname}", uri=uri, qualname=qualname,
                  owner=ctx, background=background)
        source: str | None = None
        if kind == "generate":
            try:
                source = ctx.server.workspace.get_text_document(uri).source
            except OSError as exc:
                return P.JobOutcome(job.id, "error", f"cannot read {path}: {exc.strerror}")
            fn = pycode.find_function(source, qualname)
            if fn is None or fn.is_test:
                what = "a function" if fn is None else "a function to implement (it is a test)"
                return P.JobOutcome(job.id, "error", f"{qualname} is not {what} in {path.name}")
        job.request_id = ctx.server.protocol.msg_id
        ahead = len([j for j in self.queue.active() if j.state in ("queued", "running")])
        title = f"verifix: {'generate' if kind == 'generate' else 'repair'} {qualname}"
        job.progress_token = await ctx.begin_progress(
            title, f"queued ({ahead} ahead)" if ahead else "starting", cancellable=True)
        tokens = ctx.server.work_done_progress.tokens
        if job.progress_token is not None and job.progress_token in tokens:
            # window/workDoneProgress/cancel cancels this future (pygls); stop the job with it.
            tokens[job.progress_token].add_done_callback(
                lambda f: ctx.post(self.queue.cancel, job) if f.cancelled() else None)
        waiting = len([j for j in self.queue.active() if j.state == "queued"])
        self._update(job, message=f"queued ({ahead} ahead)" if ahead else "queued",
                     position=waiting + 1)
        future = self.queue.submit(job, lambda j: self._work(j, source, path))
        task: Task | None = None
        try:
            result, task = await asyncio.wrap_future(future)
        except (asyncio.CancelledError, Cancelled):
            result = error_result(job.target, "cancelled")
        except Exception as exc:
            result = error_result(job.target, f"{type(exc).__name__}: {exc}")
        if job.cancel.cancelled:
            result = error_result(job.target, "cancelled")
        job.state = "cancelled" if job.cancel.cancelled else "finished"
        outcome = P.JobOutcome(job.id, result.status, result.message, code=result.code,
                               evidence=result.evidence.to_dict())
        try:
            if job.state == "finished":
                await self._after(job, result, task, outcome)
        finally:
            ctx.end(job.progress_token, f"{result.status}: {result.message}"
                    + (" (applied)" if outcome.applied else ""))
            e = result.evidence
            self._update(job, phase="done", percent=100, status=result.status,
                         candidates=e.candidates, checksPassed=e.trusted_passed,
                         checksTotal=e.trusted_total, message=outcome.reason or result.message,
                         evidence=result.evidence.to_dict(), applied=outcome.applied)
        if outcome.fixId:
            self.status.notify()  # after the job's last news: the fix is what is left
        return outcome

    def _update(self, job: Job, **fields: Any) -> None:
        self.ctx.server.protocol.notify(P.JOB_UPDATE_NOTIFICATION, P.JobUpdate(
            jobId=job.id, kind=job.kind, target=job.target, state=job.state, **fields))

    def _on_event(self, job: Job, event: Event) -> None:
        self.ctx.report(job.progress_token, f"{event.phase}: {event.message}", event.percent)
        i = event.interim
        interim = P.InterimAnswer(i.status, i.code, i.message) if i else None
        self._update(job, phase=event.phase, percent=event.percent,
                     candidates=event.candidates, checksPassed=event.checks_passed,
                     checksTotal=event.checks_total, message=event.message, interim=interim)

    def _work(self, job: Job, source: str | None, path: Path) -> tuple[Result, Task | None]:
        """In the job thread: wait for the model, build the task, run the pipeline."""
        ctx, model = self.ctx, self.ctx.shared.model
        ctx.post(self._update, job, phase="task", message="started")
        ctx.post(ctx.report, job.progress_token, "started", 0)

        def waiting() -> None:
            ctx.post(ctx.report, job.progress_token, "waiting for the model to load", 0)
            ctx.post(self._update, job, phase="task", message="waiting for the model")

        try:
            model.wait(job.cancel, waiting)
            with ctx.shared.engine_lock:
                engine = model.wait(job.cancel)
                sandbox = ctx.sandbox()
                root = ctx.project_root(path)
                if job.kind == "generate":
                    assert source is not None
                    task = from_source(source, job.qualname, file=str(path), project_root=root)
                    if task.project_tests:
                        task.python = project_python(ctx.settings.python, root)
                else:
                    task, _src = prepare("repair", job.target, sandbox, job.cancel, root,
                                         ctx.settings.python)
                job.task = task
                if job.cancel.cancelled:
                    raise Cancelled
                return execute(job.kind, task, ctx.settings, engine, sandbox,
                               lambda ev: ctx.post(self._on_event, job, ev), job.cancel), task
        except (TaskError, EngineError) as exc:
            return error_result(job.target, str(exc)), None
        except Cancelled:
            raise
        except Exception as exc:  # the sandbox could not start, ...: one line, server lives
            if job.cancel.cancelled:
                raise Cancelled from None  # e.g. the sandbox closed at shutdown
            log.exception("job %s failed", job.id)
            return error_result(job.target, f"{type(exc).__name__}: {exc}"), None

    # -- its result ----------------------------------------------------------------------
    async def _after(self, job: Job, result: Result, task: Task | None,
                     outcome: P.JobOutcome) -> None:
        if task is None or not result.code:
            if result.status == "error" and not job.background:
                self.ctx.show(result.message, types.MessageType.Warning)
            return
        target_uri = job.uri if job.kind == "generate" else from_fs_path(task.file or "") or ""
        self._results[(target_uri, task.qualname)] = result
        if job.background:
            if result.status == "verified" and task.changed_since(self.ctx.current_text):
                # The code moved on while the repair ran: its evidence is about other code.
                outcome.reason = "the code changed during the repair"
                return
            if result.status == "verified":
                outcome.fixId = self.fixes.add(job.uri, job.qualname, result, task).id
                self.ctx.show(f"a verified fix for {job.qualname} is ready: "
                              f"code action \"{P.TITLE_APPLY_FIX}\"", types.MessageType.Info)
            return
        if result.status == "verified":
            await self.apply(target_uri, task, result, outcome)
        else:
            # Never applied silently: the user sees the evidence and chooses.
            asyncio.ensure_future(self._offer(target_uri, task, result))

    async def apply(self, uri: str, task: Task, result: Result, outcome: P.JobOutcome,
                    confirm: bool | None = None) -> None:
        """Ask the editor to apply `result` as a safe edit; `outcome` says whether it did."""
        workspace = self.ctx.server.workspace
        doc = workspace.get_text_document(uri)
        try:
            current = doc.source
            others = []
            for change in result.changes:
                related = next(r for r in task.related if str(r.path) == change["file"]
                               and r.qualname == change["function"])
                other = workspace.get_text_document(from_fs_path(change["file"]) or "")
                others.append(edits.Other(other, other.source, other.version, related.fn.text,
                                          related.qualname, change["code"]))
            planned = edits.plan_edit(doc, current, doc.version, task.fn.text, task.qualname,
                                      result, self.ctx.settings.confirmEdits if confirm is None
                                      else confirm, others)
        except (edits.EditRefused, OSError) as exc:
            outcome.reason = str(exc)
            self.ctx.show(str(exc), types.MessageType.Warning)
            return
        if planned.confirm and self.ctx.previews_edits():
            # The answer waits until the user closes the preview; say now what it needs.
            self.ctx.show(f"review the edit of {task.qualname} in the preview: tick the change, "
                          "then Apply (it opens unticked)", types.MessageType.Info)
        try:
            answer = await self.ctx.server.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=planned.edit, label=planned.label))
        except Exception as exc:
            outcome.reason = f"the editor did not apply the edit: {exc}"
            return
        outcome.applied = bool(answer and answer.applied)
        if not outcome.applied:
            outcome.reason = (answer.failure_reason if answer else None) or "the editor declined"

    async def _offer(self, uri: str, task: Task, result: Result) -> None:
        apply_anyway = types.MessageActionItem(title="Apply anyway (review the diff)")
        try:
            choice = await self.ctx.server.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Warning,
                    message=f"verifix: {task.qualname} is {edits.evidence_text(result)}",
                    actions=[apply_anyway, types.MessageActionItem(title="Discard")]))
        except Exception:
            return
        if choice is not None and choice.title == apply_anyway.title:
            await self.apply(uri, task, result, P.JobOutcome("", result.status, ""), confirm=True)
