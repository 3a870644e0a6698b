"""The verifix language server (pygls 2): one per editor window, holding that window's shared
state (lsp/context.py) and its features, and running the lifecycle (initialize, initialized,
shutdown, exit) that starts and stops them in order.

Handlers run on the event loop and stay cheap; the model and the sandbox work in verifix's own
threads, whose news comes back through loop.call_soon_threadsafe.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCRequestMessage, LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from verifix import __version__
from verifix.lsp.actions import CodeActions
from verifix.lsp.commands import JobCommands
from verifix.lsp.configuration import Configuration
from verifix.lsp.context import Context, Shared
from verifix.lsp.fixes import Fixes
from verifix.lsp.onsave import OnSave
from verifix.lsp.status import Status

_ANSWERED = object()  # a malformed request that was answered with an error already


class VerifixProtocol(LanguageServerProtocol):
    def structure_message(self, data: Any) -> Any:
        """pygls drops a request whose params do not fit its method without answering it (the
        editor would wait forever), and treats a request to a notification's method as that
        notification: answer both with an error instead."""
        raw = data.get("id") if isinstance(data, dict) else None
        msg_id = raw if isinstance(raw, int | str) and not isinstance(raw, bool) else None
        request = msg_id is not None and "jsonrpc" in data and "method" in data
        try:
            message = super().structure_message(data)
        except JsonRpcException as error:
            if msg_id is None or not request:
                raise
            self._send_response(msg_id, None, error.to_response_error())
            return _ANSWERED
        if msg_id is not None and request and not isinstance(message, JsonRPCRequestMessage) \
                and not hasattr(message, "id"):
            self._send_response(msg_id, None, JsonRpcInvalidRequest(
                f"{data['method']} is a notification, sent as a request").to_response_error())
            return _ANSWERED
        return message

    def handle_message(self, message: Any) -> None:
        if message is not _ANSWERED:
            super().handle_message(message)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        server = self._server
        if isinstance(server, VerifixServer) and server.ctx.shared.process_wide:
            server.close_connection()  # this window only; the model stays for the others
            return None
        return (yield from super().lsp_exit(*args))

    def _handle_cancel_notification(self, msg_id: str | int) -> None:
        # pygls answers $/cancelRequest itself; a job behind the request must stop too.
        server = self._server
        if isinstance(server, VerifixServer):
            server.jobs.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)


class VerifixServer(LanguageServer):
    def __init__(self, shared: Shared | None = None) -> None:
        super().__init__("verifix", __version__, protocol_cls=VerifixProtocol)
        self.ctx = Context(self, shared or Shared())
        fixes = Fixes()
        self.status = Status(self.ctx, fixes)
        self.configuration = Configuration(self.ctx, self.status)
        self.jobs = JobCommands(self.ctx, self.status, fixes)
        self.onsave = OnSave(self.ctx, self.status, self.jobs, fixes)
        self.actions = CodeActions(self.ctx, self.jobs, fixes)
        self._writer: asyncio.StreamWriter | None = None
        self.ctx.feature(types.INITIALIZE, self._initialize)
        self.ctx.feature(types.INITIALIZED, self._initialized)
        self.ctx.feature(types.SHUTDOWN, self._shutdown)
        # The initialize answer lists the commands in this order: the job commands, then status.
        for feature in (self.configuration, self.onsave, self.actions, self.jobs, self.status):
            feature.register()

    def _initialize(self, params: types.InitializeParams) -> None:
        self.configuration.initialize(params)

    async def _initialized(self, params: types.InitializedParams) -> None:
        self.ctx.loop = asyncio.get_running_loop()
        self.status.waiting_for_settings()
        await self.configuration.initialized()
        self.onsave.start_watching()
        await self.status.ensure_model()

    def _shutdown(self, *args: Any) -> None:
        if self.ctx.shared.process_wide:
            # Other windows keep the model, the queue and the sandbox; the connection itself
            # closes on `exit`, after this answer has been sent.
            self.release()
            return
        self.ctx.shared.queue.shutdown()
        self.onsave.stop()
        self.ctx.shared.close_sandbox()

    def release(self) -> None:
        """This window's share of the work ends: its jobs and its on-save runs."""
        self.onsave.stop()
        self.jobs.release()

    def attach(self, writer: asyncio.StreamWriter) -> threading.Event:
        """Serve over `writer` (one connection to a shared server); set the returned event to
        stop reading."""
        self._stop_event = threading.Event()
        self._writer = writer
        self.protocol.set_writer(writer)  # type: ignore[arg-type]
        return self._stop_event

    def close_connection(self) -> None:
        self.release()
        if self._stop_event is not None:
            self._stop_event.set()
        if self._writer is not None:
            self._writer.close()
