"""Tasks of the canvas tests, on a compat app the tests point at a broker
(:mod:`tests.celery_compat.canvas_fixtures`).

Callbacks write what they received as JSON notes in the folder named by the environment
variable :data:`NOTES` (a runner's child processes see it too); :func:`read_note` waits
for one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pynenc_celery_compat import Celery
from tests.integration.deployments import wait_until

NOTES = "PYNENC_CANVAS_NOTES"

app = Celery("canvas_tasks", set_as_current=False)
app.conf.task_default_queue = "celery"


def _note(name: str, value: Any) -> None:
    folder = Path(os.environ[NOTES])
    (folder / f"{name}.tmp").write_text(json.dumps(value))
    (folder / f"{name}.tmp").rename(folder / name)  # whole, for the reader


def read_note(name: str, timeout: float = 60.0) -> Any:
    """The note ``name``, once a task wrote it."""
    path = Path(os.environ[NOTES]) / name
    wait_until(path.exists, timeout, f"note {name}")
    return json.loads(path.read_text())


def note_exists(name: str) -> bool:
    return (Path(os.environ[NOTES]) / name).exists()


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def mul(x: int, y: int) -> int:
    return x * y


@app.task
def tsum(values: list[int]) -> int:
    return sum(values)


@app.task
def boom(*args: Any) -> None:
    raise ValueError("boom")


@app.task
def echo(*args: Any, **kwargs: Any) -> list[Any]:
    """What it was called with: ``[args, kwargs]``."""
    return [list(args), kwargs]


@app.task
def note(value: Any, key: str) -> Any:
    """A success callback: notes the value it received under ``key``."""
    _note(key, value)
    return value


@app.task
def errback_new(request: Any, exc: BaseException, traceback: Any, key: str) -> str:
    """A new-style error callback (Celery: ``(request, exc, traceback)``)."""
    _note(
        key,
        {
            "request_type": type(request).__name__,
            "id": request.id,
            "task": request.task,
            "args": list(request.args),
            "kwargs": dict(request.kwargs),
            "exc": repr(exc),
            "exc_type": type(exc).__name__,
            "traceback": None if traceback is None else str(traceback)[:60],
        },
    )
    return "handled"


@app.task
def errback_old(task_id: str) -> None:
    """An old-style error callback: the failed task's id alone."""
    _note(f"old-{task_id}", task_id)


@app.task(bind=True)
def errback_bound(self: Any, task_id: str) -> None:
    """``bind=True``: Celery calls it the old way (the id), whatever its parameters."""
    _note(f"bound-{task_id}", [task_id, self.request.id])


@app.task
def gated(value: Any, gate: str) -> Any:
    """Returns ``value`` once the file ``gate`` exists (a step held until the test says)."""
    deadline = time.monotonic() + 120
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


#: the compat app's pynenc app (a process runner's children import it by reference)
pynenc_app = app.pynenc


@app.task(rate_limit="50/s")
def paced_add(x: int, y: int) -> int:
    """A rate-limited task (Celery's ``rate_limit``: pynenc's global rate limit)."""
    return x + y
