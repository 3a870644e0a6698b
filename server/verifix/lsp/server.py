"""The verifix language server (pygls 2): code actions, jobs with progress, safe edits, on save.

Handlers run on the event loop and stay cheap; the model and the sandbox work in verifix's own
threads (lsp/jobs.py), whose news comes back through loop.call_soon_threadsafe.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import uuid
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types
from pygls.io_ import run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import from_fs_path, to_fs_path

from verifix import __version__, config
from verifix import code as pycode
from verifix.engine.base import EngineError
from verifix.pipeline.jobs import execute, prepare
from verifix.runtime import open_sandbox
from verifix.lsp import edits
from verifix.lsp import protocol as P
from verifix.lsp.jobs import Cancelled, Job, JobQueue, ModelHolder
from verifix.lsp.settings import ENGINE_KEYS, SettingsStore, section_of
from verifix.pipeline.events import Event
from verifix.pipeline.result import Result
from verifix.pipeline.targets import project_root_of
from verifix.pipeline.task import Task, TaskError, from_source

log = logging.getLogger(__name__)


class Shared:
    """What every connection of one process shares: the resident model, the one job queue
    (one model job at a time across editor windows) and the sandbox."""

    def __init__(self, process_wide: bool = False) -> None:
        self.model = ModelHolder()
        self.queue = JobQueue()
        self.engine_lock = threading.Lock()  # held by a running job and by a (re)load
        self.loading: asyncio.Future | None = None
        self.sandbox: Any = None
        self.sandbox_key: Any = None
        self.sandbox_lock = threading.Lock()
        self.process_wide = process_wide  # --tcp: one window's `exit` must not end the rest


class VerifixProtocol(LanguageServerProtocol):
    """pygls answers $/cancelRequest itself; a job behind the request must stop too."""

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        server = self._server
        if isinstance(server, VerifixServer) and server.shared.process_wide:
            server.close_connection()  # this window only; the model stays for the others
            return None
        return (yield from super().lsp_exit(*args))

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        server = self._server
        if isinstance(server, VerifixServer):
            job = server.queue.by_request(msg_id)
            if job is not None:
                server.cancel_job(job)
        super()._handle_cancel_notification(msg_id)


@attrs.define
class Fix:
    """A verified fix found in the background, offered as "Apply verified fix"."""

    id: str
    test_uri: str
    test_qualname: str
    result: Result
    task: Task


class VerifixServer(LanguageServer):
    def __init__(self, shared: Shared | None = None) -> None:
        super().__init__("verifix", __version__, protocol_cls=VerifixProtocol)
        self.shared = shared or Shared()
        self.model = self.shared.model
        self.queue = self.shared.queue
        self.engine_lock = self.shared.engine_lock
        self.store = SettingsStore()
        self.fixes: dict[str, Fix] = {}
        self.results: dict[tuple[str, str], Result] = {}  # (uri, qualname) -> last result
        self.pending_messages: list[str] = []
        self._last_settings_error = ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._writer: Any = None
        from verifix.lsp.onsave import OnSave

        self.onsave = OnSave(self)

    @property
    def settings(self) -> config.Settings:
        return self.store.settings

    # -- threads -> loop ---------------------------------------------------------------
    def post(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run `fn` on the event loop (from any thread)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(functools.partial(fn, *args, **kwargs))

    # -- messages, status, progress ----------------------------------------------------
    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"verifix: {message}"))

    def status(self) -> P.ServerStatus:
        return P.ServerStatus(
            state=self.model.state, model=self.model.model_name or self.settings.model,  # type: ignore[arg-type]
            message=self.model.message, remedy=self.model.remedy,
            jobs=[j.info() for j in self.queue.active()], fixes=sorted(self.fixes),
            settings=config.to_dict(self.settings))

    def notify_status(self) -> None:
        self.protocol.notify(P.STATUS_NOTIFICATION, self.status())

    def _supports_progress(self) -> bool:
        window = self.client_capabilities.window if self.client_capabilities else None
        return bool(window and window.work_done_progress)

    async def begin_progress(self, title: str, message: str, cancellable: bool) -> str | None:
        if not self._supports_progress():
            return None
        token = f"verifix-{uuid.uuid4().hex}"  # fresh: pygls never frees an ended token
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), 10)
        except Exception as exc:  # the client refused or did not answer: no bar, still works
            log.warning("no progress token: %s", exc)
            return None
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
            title=title, message=message, cancellable=cancellable, percentage=0))
        return token

    def report(self, token: str | None, message: str, percent: int | None = None) -> None:
        if token is not None:
            self.work_done_progress.report(token, types.WorkDoneProgressReport(
                message=message, percentage=percent))

    def end(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    def release(self) -> None:
        """This window's share of the work ends: its jobs and its on-save runs."""
        self.onsave.stop()
        for job in self.queue.active():
            if job.owner is self:
                self.cancel_job(job)

    def close_connection(self) -> None:
        self.release()
        if self._stop_event is not None:
            self._stop_event.set()
        if self._writer is not None:
            self._writer.close()

    # -- model ---------------------------------------------------------------------------
    async def ensure_model(self) -> None:
        """Load the model unless another window of this process already has (or is)."""
        shared = self.shared
        if shared.loading is not None and not shared.loading.done():
            await asyncio.shield(shared.loading)
        elif self.model.state == "ready" and self.model.settings_key == _engine_key(
                self.settings):
            pass
        else:
            shared.loading = asyncio.ensure_future(self.load_model())
            await asyncio.shield(shared.loading)
            return
        self.notify_status()
        if self.model.state == "error":
            self.show(f"{self.model.message}. {self.model.remedy}")

    async def load_model(self) -> None:
        settings = self.settings
        self.model.state, self.model.message = "loading", f"loading {settings.model}"
        self.notify_status()
        token = await self.begin_progress("verifix: loading the model", settings.model, False)
        done = asyncio.get_running_loop().create_future()

        def progress(done_bytes: int, total: int) -> None:
            self.post(self.report, token, "assembling the model",
                      done_bytes * 100 // max(total, 1))

        def run() -> None:
            with self.engine_lock:
                self.model.load(settings, progress)
                self.model.settings_key = _engine_key(settings)
            self.post(lambda: None if done.done() else done.set_result(None))

        # A plain daemon thread: loading cannot be interrupted and must not block exit.
        threading.Thread(target=run, name="verifix-model", daemon=True).start()
        try:
            await done
        finally:
            self.end(token, self.model.message)
        self.notify_status()
        if self.model.state == "error":
            self.show(f"{self.model.message}. {self.model.remedy}")

    # -- sandbox -------------------------------------------------------------------------
    def sandbox(self) -> Any:
        """The shared sandbox (from any thread); reopened when its settings change."""
        shared, key = self.shared, self.settings.sandbox
        with shared.sandbox_lock:
            if shared.sandbox is None or shared.sandbox_key != key:
                old, shared.sandbox = shared.sandbox, None
                if old is not None:
                    old.close()
                shared.sandbox = open_sandbox(self.settings)
                shared.sandbox_key = key
            return shared.sandbox

    def close_sandbox(self) -> None:
        shared = self.shared
        with shared.sandbox_lock:
            old, shared.sandbox = shared.sandbox, None
        if old is not None:
            old.close()

    # -- jobs ----------------------------------------------------------------------------
    def cancel_job(self, job: Job) -> None:
        self.queue.cancel(job)

    def job_update(self, job: Job, **fields: Any) -> None:
        self.protocol.notify(P.JOB_UPDATE_NOTIFICATION, P.JobUpdate(
            jobId=job.id, kind=job.kind, target=job.target, state=job.state, **fields))

    def _on_event(self, job: Job, event: Event) -> None:
        text = f"{event.phase}: {event.message}"
        self.report(job.progress_token, text, event.percent)
        self.job_update(job, phase=event.phase, percent=event.percent,
                        candidates=event.candidates, checksPassed=event.checks_passed,
                        checksTotal=event.checks_total, message=event.message)

    def _work(self, job: Job, source: str | None, path: Path) -> tuple[Result, Task | None]:
        """In the job thread: wait for the model, build the task, run the pipeline."""
        self.post(self.job_update, job, phase="task", message="started")
        self.post(self.report, job.progress_token, "started", 0)

        def waiting() -> None:
            self.post(self.report, job.progress_token, "waiting for the model to load", 0)
            self.post(self.job_update, job, phase="task", message="waiting for the model")

        try:
            engine = self.model.wait(job.cancel, waiting)
            with self.engine_lock:
                engine = self.model.wait(job.cancel)
                sandbox = self.sandbox()
                root = self.project_root(path)
                if job.kind == "generate":
                    assert source is not None
                    task = from_source(source, job.qualname, file=str(path), project_root=root)
                else:
                    task, _src = prepare("repair", job.target, sandbox, job.cancel, root)
                if job.cancel.cancelled:
                    raise Cancelled
                return execute(job.kind, task, self.settings, engine, sandbox,
                               lambda ev: self.post(self._on_event, job, ev), job.cancel), task
        except TaskError as exc:
            return _error(job, str(exc)), None
        except EngineError as exc:
            return _error(job, str(exc)), None
        except Cancelled:
            raise
        except Exception as exc:  # the sandbox could not start, ...: one line, server lives
            if job.cancel.cancelled:
                raise Cancelled from None  # e.g. the sandbox closed at shutdown
            log.exception("job %s failed", job.id)
            return _error(job, f"{type(exc).__name__}: {exc}"), None

    def project_root(self, path: Path) -> Path:
        root = self.store.root
        if root is not None:
            try:
                path.resolve().relative_to(root.resolve())
                return root
            except ValueError:
                pass
        return project_root_of(path)

    async def run_job(self, kind: str, uri: str, qualname: str,
                      background: bool = False) -> P.JobOutcome:
        path = Path(to_fs_path(uri) or uri)
        job = Job(kind=kind, target=f"{path}::{qualname}", uri=uri, qualname=qualname, owner=self,
                  background=background)
        source: str | None = None
        if kind == "generate":
            try:
                source = self.workspace.get_text_document(uri).source
            except OSError as exc:
                return P.JobOutcome(job.id, "error", f"cannot read {path}: {exc.strerror}")
            fn = pycode.find_function(source, qualname)
            if fn is None or fn.is_test:
                what = "a function" if fn is None else "a function to implement (it is a test)"
                return P.JobOutcome(job.id, "error", f"{qualname} is not {what} in {path.name}")
        job.request_id = self.protocol.msg_id
        ahead = len([j for j in self.queue.active() if j.state in ("queued", "running")])
        title = f"verifix: {'generate' if kind == 'generate' else 'repair'} {qualname}"
        job.progress_token = await self.begin_progress(
            title, f"queued ({ahead} ahead)" if ahead else "starting", cancellable=True)
        if job.progress_token is not None and job.progress_token in self.work_done_progress.tokens:
            # window/workDoneProgress/cancel cancels this future (pygls); stop the job with it.
            self.work_done_progress.tokens[job.progress_token].add_done_callback(
                lambda f: self.post(self.cancel_job, job) if f.cancelled() else None)
        waiting = len([j for j in self.queue.active() if j.state == "queued"])
        self.job_update(job, message=f"queued ({ahead} ahead)" if ahead else "queued",
                        position=waiting + 1)
        future = self.queue.submit(job, lambda j: self._work(j, source, path))
        task: Task | None = None
        try:
            result, task = await asyncio.wrap_future(future)
        except (asyncio.CancelledError, Cancelled):
            result = _error(job, "cancelled")
        except Exception as exc:
            result = _error(job, f"{type(exc).__name__}: {exc}")
        if job.cancel.cancelled:
            result = _error(job, "cancelled")
        job.state = "cancelled" if job.cancel.cancelled else "finished"
        outcome = P.JobOutcome(job.id, result.status, result.message, code=result.code,
                               evidence=result.evidence.to_dict())
        try:
            if job.state == "finished":
                await self._after(job, result, task, outcome)
        finally:
            self.end(job.progress_token, f"{result.status}: {result.message}"
                     + (" (applied)" if outcome.applied else ""))
            e = result.evidence
            self.job_update(job, phase="done", percent=100, status=result.status,
                            candidates=e.candidates, checksPassed=e.trusted_passed,
                            checksTotal=e.trusted_total, message=outcome.reason or result.message,
                            evidence=result.evidence.to_dict(), applied=outcome.applied)
        if outcome.fixId:
            self.notify_status()  # after the job's last news: the fix is what is left
        return outcome

    async def _after(self, job: Job, result: Result, task: Task | None,
                     outcome: P.JobOutcome) -> None:
        if task is None or not result.code:
            if result.status == "error" and not job.background:
                self.show(result.message, types.MessageType.Warning)
            return
        target_uri = job.uri if job.kind == "generate" else from_fs_path(task.file or "") or ""
        self.results[(target_uri, task.qualname)] = result
        if job.background:
            if result.status == "verified":
                fix = Fix(uuid.uuid4().hex[:8], job.uri, job.qualname, result, task)
                self.fixes = {k: f for k, f in self.fixes.items()
                              if (f.test_uri, f.test_qualname) != (job.uri, job.qualname)}
                self.fixes[fix.id] = fix
                outcome.fixId = fix.id
                self.show(f"a verified fix for {job.qualname} is ready: "
                          f"code action \"{P.TITLE_APPLY_FIX}\"", types.MessageType.Info)
            return
        if result.status == "verified":
            await self.apply(target_uri, task, result, outcome)
        else:
            # Never applied silently: the user sees the evidence and chooses.
            asyncio.ensure_future(self._offer(target_uri, task, result))

    async def apply(self, uri: str, task: Task, result: Result, outcome: P.JobOutcome,
                    confirm: bool | None = None) -> None:
        doc = self.workspace.get_text_document(uri)
        try:
            current = doc.source
            planned = edits.plan_edit(doc, current, doc.version, task.fn.text, task.qualname,
                                      result, self.settings.confirmEdits if confirm is None
                                      else confirm)
        except (edits.EditRefused, OSError) as exc:
            outcome.reason = str(exc)
            self.show(str(exc), types.MessageType.Warning)
            return
        try:
            answer = await self.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
                edit=planned.edit, label=planned.label))
        except Exception as exc:
            outcome.reason = f"the editor did not apply the edit: {exc}"
            return
        outcome.applied = bool(answer and answer.applied)
        if not outcome.applied:
            outcome.reason = (answer.failure_reason if answer else None) or "the editor declined"

    async def _offer(self, uri: str, task: Task, result: Result) -> None:
        apply_anyway = types.MessageActionItem(title="Apply anyway (review the diff)")
        try:
            choice = await self.window_show_message_request_async(types.ShowMessageRequestParams(
                type=types.MessageType.Warning,
                message=f"verifix: {task.qualname} is {edits.evidence_text(result)}",
                actions=[apply_anyway, types.MessageActionItem(title="Discard")]))
        except Exception:
            return
        if choice is not None and choice.title == apply_anyway.title:
            await self.apply(uri, task, result, P.JobOutcome("", result.status, ""), confirm=True)

    # -- configuration -------------------------------------------------------------------
    def settings_errors(self, lines: list[str]) -> None:
        # Editors send the same settings by several routes at start-up: say each error once.
        text = "; ".join(lines)
        if lines and text != self._last_settings_error:
            self.show("invalid settings, the previous values stay: " + text)
        self._last_settings_error = text

    async def pull_configuration(self) -> None:
        caps = self.client_capabilities.workspace if self.client_capabilities else None
        if not (caps and caps.configuration):
            return
        try:
            values = await asyncio.wait_for(self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(
                    section=P.CONFIG_SECTION)])), 5)
        except Exception as exc:
            log.warning("workspace/configuration failed: %s", exc)
            return
        self.apply_editor_config(values[0] if values else None)

    def apply_editor_config(self, value: Any) -> None:
        before = self.settings
        self.settings_errors(self.store.update(value))
        after = self.settings
        if _engine_key(before) != _engine_key(after) and self.loop is not None:
            asyncio.ensure_future(self.ensure_model())
        if before != after:
            self.notify_status()


def _engine_key(settings: config.Settings) -> tuple[Any, ...]:
    return tuple(getattr(settings, k) for k in ENGINE_KEYS)


def _error(job: Job, message: str) -> Result:
    return Result(status="error", file=job.target.partition("::")[0], function=job.qualname,
                  code="", message=message)


def build(shared: Shared | None = None) -> VerifixServer:
    server = VerifixServer(shared)

    @server.feature(types.INITIALIZE)
    def initialize(ls: VerifixServer, params: types.InitializeParams) -> None:
        root: Path | None = None
        if params.root_uri:
            root = Path(to_fs_path(params.root_uri) or ".")
        elif params.workspace_folders:
            root = Path(to_fs_path(params.workspace_folders[0].uri) or ".")
        ls.pending_messages += ls.store.start(root, params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: VerifixServer, params: types.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls.model.message = "waiting for the editor's settings"
        ls.notify_status()
        ls.settings_errors(ls.pending_messages)
        ls.pending_messages = []
        await ls.pull_configuration()
        ls.onsave.start_watching()
        await ls.ensure_model()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: VerifixServer, *args: Any) -> None:
        if ls.shared.process_wide:
            # Other windows keep the model, the queue and the sandbox; the connection itself
            # closes on `exit`, after this answer has been sent.
            ls.release()
            return
        ls.queue.shutdown()
        ls.onsave.stop()
        ls.close_sandbox()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: VerifixServer,
                                       params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and P.CONFIG_SECTION in settings:
            ls.apply_editor_config(section_of(settings))
        else:
            await ls.pull_configuration()

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: VerifixServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.onsave.saved(params.text_document.uri)

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: VerifixServer, params: types.WorkDoneProgressCancelParams) -> None:
        job = ls.queue.by_token(params.token)
        if job is not None:
            ls.cancel_job(job)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]))
    def code_action(ls: VerifixServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        from verifix.lsp.actions import code_actions

        return code_actions(ls, params)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: VerifixServer, params: types.HoverParams) -> types.Hover | None:
        from verifix.lsp.actions import hover_text

        text = hover_text(ls, params.text_document.uri, params.position)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=text))

    @server.command(P.GENERATE)
    async def generate(ls: VerifixServer, args: P.GenerateArgs) -> P.JobOutcome:
        return await ls.run_job("generate", args.uri, args.qualname)

    @server.command(P.REPAIR)
    async def repair(ls: VerifixServer, args: P.RepairArgs) -> P.JobOutcome:
        return await ls.run_job("repair", args.uri, args.qualname)

    @server.command(P.APPLY_FIX)
    async def apply_fix(ls: VerifixServer, args: P.ApplyFixArgs) -> P.JobOutcome:
        fix = ls.fixes.get(args.fixId)
        if fix is None:
            return P.JobOutcome(args.fixId, "error", "no such fix (it may be stale)")
        outcome = P.JobOutcome(fix.id, fix.result.status, fix.result.message,
                               code=fix.result.code, evidence=fix.result.evidence.to_dict(),
                               fixId=fix.id)
        await ls.apply(from_fs_path(fix.task.file or "") or "", fix.task, fix.result, outcome)
        if outcome.applied:
            ls.fixes.pop(fix.id, None)
            ls.notify_status()
        return outcome

    @server.command(P.CANCEL)
    def cancel(ls: VerifixServer, args: P.CancelArgs | None = None) -> list[str]:
        # A shared (--tcp) server: a window cancels its own jobs, never another window's.
        mine = [j for j in ls.queue.active() if j.owner is ls]
        if args is None or args.jobId is None:
            for job in mine:
                ls.cancel_job(job)
            return [j.id for j in mine]
        target = next((j for j in mine if j.id == args.jobId), None)
        if target is None:
            return []
        ls.cancel_job(target)
        return [target.id]

    @server.command(P.STATUS)
    def status(ls: VerifixServer) -> P.ServerStatus:
        return ls.status()

    return server


def serve(tcp: tuple[str, int] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="verifix: %(message)s")  # stderr only
    if tcp is None:
        build().start_io()
        return
    try:
        asyncio.run(_serve_tcp(*tcp))
    except KeyboardInterrupt:
        pass


async def _serve_tcp(host: str, port: int) -> None:
    """One process, one model, one job queue; a VerifixServer per editor window."""
    shared = Shared(process_wide=True)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server = build(shared)
        server._stop_event = threading.Event()
        server._writer = writer
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        try:
            await run_async(stop_event=server._stop_event, reader=reader,
                            protocol=server.protocol, logger=log,
                            error_handler=server.report_server_error)
        finally:
            server.close_connection()

    listener = await asyncio.start_server(connection, host, port)
    log.warning("listening on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
    async with listener:
        await listener.serve_forever()
