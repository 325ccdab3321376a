"""Tasks for the result metadata and saved-group tests (module level: a runner in another
process imports them by name)."""

from __future__ import annotations

import os
import threading
from typing import Any

from pynenc_celery_compat import shared_task

#: gates a running ``held`` task waits on, by name (the runner is in this process)
GATES: dict[str, threading.Event] = {}
#: set by ``held`` when it runs, by gate name
STARTED: dict[str, threading.Event] = {}


@shared_task
def add(x: int, y: int) -> int:
    return x + y


@shared_task(bind=True)
def describe(self: Any, x: Any, y: Any = 2, *rest: Any, **extra: Any) -> dict[str, Any]:
    """What the worker's request says of this call: the metadata a result should show."""
    request = self.request
    return {
        "task": request.task,
        "args": request.args,
        "kwargs": request.kwargs,
        "hostname": request.hostname,
        "retries": request.retries,
        "routing_key": request.delivery_info["routing_key"],
        "pid": os.getpid(),
    }


@shared_task(bind=True, max_retries=3, default_retry_delay=0)
def retry_until(self: Any, succeed_at: int, countdown: float = 0) -> int:
    if self.request.retries < succeed_at:
        raise self.retry(countdown=countdown)
    return int(self.request.retries)


@shared_task
def fail(message: str) -> None:
    raise ValueError(message)


@shared_task(track_started=True)
def held(gate: str) -> str:
    STARTED.setdefault(gate, threading.Event()).set()
    assert GATES.setdefault(gate, threading.Event()).wait(60), f"gate {gate} never opened"
    return gate
