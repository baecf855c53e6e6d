"""Training stops cleanly when the interpreter exits: at a step boundary, never mid-step.

A daemon thread still inside a torch kernel while Python finalises aborts the whole process
(`terminate called without an active exception`, exit status 134; seen with Ctrl-C on the app
while the demo model trained). An exit hook sets `SHUTDOWN`, which every training loop checks
before each step, and waits for the running loops to save their state and return.
"""
from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SHUTDOWN = threading.Event()
GRACE_SECONDS = 120.0  # longest wait at exit for a step to finish (a step takes about 1 s)

_running = 0
_changed = threading.Condition()


@contextmanager
def training_loop() -> Iterator[None]:
    """Count a training loop as running while inside the block."""
    global _running
    with _changed:
        _running += 1
    try:
        yield
    finally:
        with _changed:
            _running -= 1
            _changed.notify_all()


def running_loops() -> int:
    return _running


def stop_all_and_wait(timeout: float = GRACE_SECONDS) -> bool:
    """Ask every training loop to stop at its next step boundary; True once none runs."""
    SHUTDOWN.set()
    with _changed:
        return _changed.wait_for(lambda: _running == 0, timeout=timeout)


atexit.register(stop_all_and_wait)
