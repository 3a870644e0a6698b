"""What the features share, imported by each of them and importing none: the process-wide model,
job queue and sandbox (`Shared`), and per editor window the settings, the event loop and the
ways to reach the editor: messages and progress (`Context`)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from verifix import config
from verifix.lsp.model import ModelHolder
from verifix.lsp.queue import JobQueue
from verifix.lsp.settings import SettingsStore
from verifix.pipeline.targets import project_root_of
from verifix.runtime import open_sandbox
from verifix.sandbox import Runner

log = logging.getLogger(__name__)


class Shared:
    """What every connection of one process shares: the resident model, the one job queue
    (one model job at a time across editor windows) and the sandbox."""

    def __init__(self, process_wide: bool = False) -> None:
        self.model = ModelHolder()
        self.queue = JobQueue()
        self.engine_lock = threading.Lock()  # held by a running job and by a (re)load
        self.loading: asyncio.Future | None = None
        self.process_wide = process_wide  # shared: one window's `exit` must not end the rest
        self._sandbox: Runner | None = None
        self._sandbox_key: config.SandboxSettings | None = None
        self._sandbox_lock = threading.Lock()

    def sandbox(self, settings: config.Settings) -> Runner:
        """The sandbox (from any thread); reopened when its settings change."""
        with self._sandbox_lock:
            if self._sandbox is None or self._sandbox_key != settings.sandbox:
                old, self._sandbox = self._sandbox, None
                if old is not None:
                    old.close()
                self._sandbox = open_sandbox(settings)
                self._sandbox_key = settings.sandbox
            return self._sandbox

    def close_sandbox(self) -> None:
        with self._sandbox_lock:
            old, self._sandbox = self._sandbox, None
        if old is not None:
            old.close()


class Context:
    """One connection (editor window): its server, settings and event loop."""

    def __init__(self, server: LanguageServer, shared: Shared) -> None:
        self.server = server
        self.shared = shared
        self.store = SettingsStore()
        self.loop: asyncio.AbstractEventLoop | None = None  # set once the editor is initialized

    @property
    def settings(self) -> config.Settings:
        return self.store.settings

    def sandbox(self) -> Runner:
        return self.shared.sandbox(self.settings)

    def project_root(self, path: Path) -> Path:
        """The workspace root for files inside it, else the file's own project."""
        root = self.store.root
        if root is not None:
            try:
                path.resolve().relative_to(root.resolve())
                return root
            except ValueError:
                pass
        return project_root_of(path)

    def current_text(self, path: Path) -> str | None:
        """A file's text as the editor has it (its buffer when open, else the disk); None when
        it cannot be read."""
        try:
            return self.server.workspace.get_text_document(from_fs_path(str(path)) or "").source
        except (OSError, UnicodeDecodeError):
            return None

    def feature(self, method: str, handler: Callable[..., Any], options: Any = None) -> None:
        self.server.feature(method, options)(_as_function(handler))

    def command(self, name: str, handler: Callable[..., Any]) -> None:
        self.server.command(name)(_as_function(handler))

    def post(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run `fn` on the event loop (from any thread)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(functools.partial(fn, *args, **kwargs))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.server.window_show_message(types.ShowMessageParams(
            type=kind, message=f"verifix: {message}"))

    def previews_edits(self) -> bool:
        """The client shows an edit that needs confirmation in a preview (VS Code does, with
        the change unticked); a client without change annotations just applies it."""
        caps = self.server.client_capabilities
        edit = caps and caps.workspace and caps.workspace.workspace_edit
        return bool(edit and edit.change_annotation_support)

    # -- progress ------------------------------------------------------------------------
    async def begin_progress(self, title: str, message: str, cancellable: bool) -> str | None:
        """A new progress bar's token; None when the client shows none (the work goes on)."""
        caps = self.server.client_capabilities
        if not (caps and caps.window and caps.window.work_done_progress):
            return None
        token = f"verifix-{uuid.uuid4().hex}"  # fresh: pygls never frees an ended token
        progress = self.server.work_done_progress
        try:
            await asyncio.wait_for(progress.create_async(token), 10)
        except Exception as exc:  # the client refused or did not answer: no bar, still works
            log.warning("no progress token: %s", exc)
            return None
        progress.begin(token, types.WorkDoneProgressBegin(
            title=title, message=message, cancellable=cancellable, percentage=0))
        return token

    def report(self, token: str | None, message: str, percent: int | None = None) -> None:
        if token is not None:
            self.server.work_done_progress.report(token, types.WorkDoneProgressReport(
                message=message, percentage=percent))

    def end(self, token: str | None, message: str) -> None:
        if token is not None:
            self.server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


def _as_function(method: Callable[..., Any]) -> Callable[..., Any]:
    """A bound method as a function of its own: pygls marks what it registers with attributes,
    which a bound method cannot carry. Its signature and annotations stay visible to pygls."""
    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            return await method(*args, **kwargs)

        return call_async

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return call
