"""Background jobs: work that outlives a page run (the demo build, training, embedding).

A job runs a function in a daemon thread and keeps what a page needs to show it: progress,
rate, time left, the result or the error. The function receives the job and calls
`job.report(done, total, message)`; it should stop early when `job.cancelled` is set.
Jobs are kept by key in one registry per process, so every session sees the same job.

When the process exits (Ctrl-C on the server), an exit hook tells training to stop at its next
step boundary (saving its state) and waits for the running jobs: a daemon thread left inside a
torch call while Python finalises would abort the process (exit status 134).
"""
from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from typing import Any

from scimult_app.training.stopping import GRACE_SECONDS, SHUTDOWN


class Cancelled(Exception):
    """Raised inside a job's function by `Job.check_cancelled` to stop it."""


class Job:
    """One piece of background work with its progress; started at once."""

    def __init__(self, key: str, work: Callable[[Job], Any], title: str = "") -> None:
        self.key, self.title = key, title or key
        self.done, self.total, self.message = 0, 0, ""
        self.result: Any = None
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=f"job-{key}",
                                        daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Job], Any]) -> None:
        try:
            self.result = work(self)
        except Cancelled:
            self.error = "cancelled"
        except Exception as error:  # shown to the user; the server keeps running
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.finished = time.time()

    def report(self, done: int, total: int, message: str = "") -> None:
        self.done, self.total = done, total
        if message:
            self.message = message
        self.check_cancelled()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def succeeded(self) -> bool:
        return not self.running and self.error is None

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.running

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0

    def seconds_left(self) -> float | None:
        """Estimated from the rate so far; None until 5% is done."""
        if self.fraction < 0.05 or not self.running:
            return None
        elapsed = time.time() - self.started
        return elapsed / self.fraction * (1 - self.fraction)

    def status_line(self) -> str:
        """`title: done/total, N min left`, for a progress bar."""
        left = self.seconds_left()
        eta = f", about {left / 60:.0f} min left" if left and left >= 60 else \
            f", about {left:.0f} s left" if left else ""
        count = f"{self.done}/{self.total or '…'}"
        return f"{self.title}: {count}{eta}" + (f" ({self.message})" if self.message else "")


class JobRegistry:
    """Jobs by key: starting a key that is running returns the running job."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, key: str, work: Callable[[Job], Any], title: str = "",
              restart: bool = False) -> Job:
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and (job.running or not restart):
                return job
            job = self._jobs[key] = Job(key, work, title)
            return job

    def get(self, key: str) -> Job | None:
        return self._jobs.get(key)

    def running(self) -> list[Job]:
        return [job for job in list(self._jobs.values()) if job.running]

    def forget(self, key: str) -> None:
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.running:
                del self._jobs[key]


JOBS = JobRegistry()


def wait_for_jobs_at_exit(registry: JobRegistry | None = None,
                          timeout: float = GRACE_SECONDS) -> bool:
    """Ask training to stop at a step boundary and wait for the running jobs; True if all ended."""
    SHUTDOWN.set()
    deadline = time.monotonic() + timeout
    for job in (registry or JOBS).running():
        job.wait(max(0.0, deadline - time.monotonic()))
    return not (registry or JOBS).running()


atexit.register(wait_for_jobs_at_exit)
