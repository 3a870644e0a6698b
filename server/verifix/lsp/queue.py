"""The job queue: one worker thread of verifix's own (never pygls's thread pool, which also reads
stdin), so one model job runs at a time across editor windows; the others wait, visibly."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from verifix.cancel import Cancelled, CancelToken
from verifix.lsp.protocol import JobInfo, JobState

if TYPE_CHECKING:
    from verifix.pipeline.task import Task

T = TypeVar("T")


@dataclass
class Job:
    """One generate or repair request (or a background repair) and how far it got."""

    kind: str  # generate | repair
    target: str  # FILE::QUALNAME
    uri: str
    qualname: str
    background: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    cancel: CancelToken = field(default_factory=CancelToken)
    state: JobState = "queued"
    progress_token: str | None = None
    request_id: str | int | None = None  # the executeCommand request, for $/cancelRequest
    owner: object = None  # the connection (editor window) that started it
    future: Future | None = None
    task: Task | None = None  # what the job works from, once read (for staleness)

    def info(self) -> JobInfo:
        return JobInfo(self.id, self.kind, self.target, self.state)


class JobQueue:
    """A single worker thread; jobs keep their order and can be cancelled while queued."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verifix-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, job: Job, work: Callable[[Job], T]) -> Future[T]:
        with self._lock:
            self._jobs[job.id] = job

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
            self._jobs.pop(job.id, None)

    def active(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job: Job) -> None:
        job.cancel.cancel()
        if job.future is not None and job.future.cancel():  # still queued: never runs
            job.state = "cancelled"

    def by_request(self, request_id: str | int) -> Job | None:
        return next((j for j in self.active() if j.request_id == request_id), None)

    def by_token(self, token: str | int) -> Job | None:
        return next((j for j in self.active() if j.progress_token == token), None)

    def shutdown(self) -> None:
        for job in self.active():
            self.cancel(job)
        self._pool.shutdown(wait=False, cancel_futures=True)
