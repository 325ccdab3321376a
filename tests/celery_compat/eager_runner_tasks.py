"""Compat tasks for the in-process runner mode tests (``pynenc_eager_runner``).

The app names servers that do not exist: the in-process runner needs none (it runs on the
in-memory broker and state backend), and eager mode never connects.
"""

from __future__ import annotations

import time
from typing import Any

from pynenc_celery_compat import Celery

app = Celery(
    "eager_runner",
    broker="redis://127.0.0.1:9/0",
    backend="redis://127.0.0.1:9/1",
    set_as_current=False,
)
app.conf.task_always_eager = True

#: monotonic start time of each attempt of :func:`retried`
ATTEMPTS: list[float] = []


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(bind=True)
def describe(self: Any, *args: Any) -> dict[str, Any]:
    request = self.request
    return {
        "id": request.id,
        "args": request.args,
        "is_eager": request.is_eager,
        "hostname": request.hostname,
        "retries": request.retries,
    }


@app.task(bind=True, max_retries=1)
def retried(self: Any, countdown: float) -> int:
    ATTEMPTS.append(time.monotonic())
    if self.request.retries == 0:
        raise self.retry(exc=KeyError("first"), countdown=countdown)
    return int(self.request.retries)


@app.task
def boom() -> None:
    raise ValueError("boom")


def add_body(x: int, y: int) -> int:
    """A plain function, made a task of other apps by the tests."""
    return x + y
