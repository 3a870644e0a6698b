"""Status and model loading: the verifix/status notification and the verifix.status command,
and loading the model (with a progress bar) at start and when the settings ask for another."""

from __future__ import annotations

import asyncio
import threading

from verifix import config
from verifix.lsp import protocol as P
from verifix.lsp.context import Context
from verifix.lsp.fixes import Fixes
from verifix.lsp.settings import engine_key


class Status:
    def __init__(self, ctx: Context, fixes: Fixes) -> None:
        self.ctx = ctx
        self.model = ctx.shared.model
        self.fixes = fixes

    def register(self) -> None:
        self.ctx.command(P.STATUS, self.snapshot)

    def snapshot(self) -> P.ServerStatus:
        model = self.model
        return P.ServerStatus(
            state=model.state, model=model.model_name or self.ctx.settings.model,
            message=model.message, remedy=model.remedy,
            jobs=[j.info() for j in self.ctx.shared.queue.active()], fixes=self.fixes.ids(),
            settings=config.to_dict(self.ctx.settings))

    def notify(self) -> None:
        self.ctx.server.protocol.notify(P.STATUS_NOTIFICATION, self.snapshot())

    def waiting_for_settings(self) -> None:
        self.model.message = "waiting for the editor's settings"
        self.notify()

    def settings_changed(self, before: config.Settings, after: config.Settings) -> None:
        if engine_key(before) != engine_key(after) and self.ctx.loop is not None:
            asyncio.ensure_future(self.ensure_model())
        if before != after:
            self.notify()

    async def ensure_model(self) -> None:
        """Load the model unless another window of this process already has (or is)."""
        shared = self.ctx.shared
        if shared.loading is not None and not shared.loading.done():
            await asyncio.shield(shared.loading)
        elif self.model.state == "ready" and self.model.settings_key == engine_key(
                self.ctx.settings):
            pass
        else:
            shared.loading = asyncio.ensure_future(self._load())
            await asyncio.shield(shared.loading)
            return
        self._announce()

    async def _load(self) -> None:
        ctx, model, settings = self.ctx, self.model, self.ctx.settings
        model.state, model.message = "loading", f"loading {settings.model}"
        self.notify()
        token = await ctx.begin_progress("verifix: loading the model", settings.model, False)
        done = asyncio.get_running_loop().create_future()

        def progress(done_bytes: int, total: int) -> None:
            ctx.post(ctx.report, token, "assembling the model", done_bytes * 100 // max(total, 1))

        def run() -> None:
            with ctx.shared.engine_lock:
                model.load(settings, progress)
                model.settings_key = engine_key(settings)
            ctx.post(lambda: None if done.done() else done.set_result(None))

        # A plain daemon thread: loading cannot be interrupted and must not block exit.
        threading.Thread(target=run, name="verifix-model", daemon=True).start()
        try:
            await done
        finally:
            ctx.end(token, model.message)
        self._announce()

    def _announce(self) -> None:
        self.notify()
        if self.model.state == "error":
            self.ctx.show(f"{self.model.message}. {self.model.remedy}")
