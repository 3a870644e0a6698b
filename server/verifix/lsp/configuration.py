"""Configuration: the editor's settings at initialize (initializationOptions), pulled through
workspace/configuration and pushed by didChangeConfiguration; invalid ones are reported once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from verifix.lsp import protocol as P
from verifix.lsp.context import Context
from verifix.lsp.settings import section_of
from verifix.lsp.status import Status

log = logging.getLogger(__name__)


class Configuration:
    def __init__(self, ctx: Context, status: Status) -> None:
        self.ctx = ctx
        self.status = status
        self._pending: list[str] = []  # errors found before the editor can be told
        self._last_error = ""

    def register(self) -> None:
        self.ctx.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION, self.did_change)

    def initialize(self, params: types.InitializeParams) -> None:
        root: Path | None = None
        if params.root_uri:
            root = Path(to_fs_path(params.root_uri) or ".")
        elif params.workspace_folders:
            root = Path(to_fs_path(params.workspace_folders[0].uri) or ".")
        self._pending += self.ctx.store.start(root, params.initialization_options)

    async def initialized(self) -> None:
        self._report(self._pending)
        self._pending = []
        await self._pull()

    async def did_change(self, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and P.CONFIG_SECTION in settings:
            self._apply(section_of(settings))
        else:
            await self._pull()

    def _report(self, lines: list[str]) -> None:
        # Editors send the same settings by several routes at start-up: say each error once.
        text = "; ".join(lines)
        if lines and text != self._last_error:
            self.ctx.show("invalid settings, the previous values stay: " + text)
        self._last_error = text

    async def _pull(self) -> None:
        caps = self.ctx.server.client_capabilities
        if not (caps and caps.workspace and caps.workspace.configuration):
            return
        try:
            values = await asyncio.wait_for(self.ctx.server.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(
                    section=P.CONFIG_SECTION)])), 5)
        except Exception as exc:
            log.warning("workspace/configuration failed: %s", exc)
            return
        self._apply(values[0] if values else None)

    def _apply(self, value: Any) -> None:
        before = self.ctx.settings
        self._report(self.ctx.store.update(value))
        self.status.settings_changed(before, self.ctx.settings)
