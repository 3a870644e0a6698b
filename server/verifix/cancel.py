"""A cancel flag shared by every layer: set from any thread, observed between tokens and runs."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """The job's cancel token was set; whatever stage noticed it stops at once."""


class BudgetExhausted(Exception):
    """The job's time budget is spent: select among the candidates there are."""


class CancelToken:
    """Set from any thread; engines check it between tokens, sandboxes kill their run."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` once when cancelled (at once if already); returns an unregister."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._discard(callback)
        callback()
        return lambda: None

    def _discard(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)


class Deadline(CancelToken):
    """Fires when `parent` does or when `seconds` have passed: handed to the engine, it ends a
    reply at the time budget instead of after it. `close()` when the job is done."""

    def __init__(self, parent: CancelToken, seconds: float) -> None:
        super().__init__()
        self.parent = parent
        self._timer = threading.Timer(seconds, self.cancel)
        self._timer.daemon = True
        self._timer.start()
        self._unregister = parent.on_cancel(self.cancel)

    def cancel(self) -> None:
        self._timer.cancel()
        super().cancel()

    def close(self) -> None:
        self._timer.cancel()
        self._unregister()
