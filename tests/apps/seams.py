"""Tasks for the seams the Celery layer builds on: a task with its own serializer, a Task
subclass choosing its error classes (Celery's, subclassed), and calls with headers.

The app accepts ``pickle`` besides its JSON default (``accept_serializers``); a runner
started with ``PYNENC__ACCEPT_SERIALIZERS=`` (none) refuses it.
"""

from __future__ import annotations

import operator
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.exceptions import TaskRevokedError

from pynenc import Pynenc
from pynenc.task import Task

app = Pynenc(app_id="tests-seams", config_values={"accept_serializers": ["pickle"]})

SOFT = 0.5  #: soft limit (seconds) of the limited tasks
HARD = 1.5  #: hard limit (seconds)
LONG = 120.0  #: longest a blocked task waits


# -- a task with its own serializer -------------------------------------------------------


@app.task(serializer="pickle")
def apply(func: Callable[[Any], Any], value: Any) -> tuple[Callable[[Any], Any], Any]:
    """Takes a callable (JSON cannot carry it) and returns it with its result."""
    return func, func(value)


@app.task
def add(x: int, y: int) -> int:
    """A JSON task of the same app, beside the pickle one."""
    return x + y


@app.task(serializer="pickle")
def fan_out(values: list[int]) -> list[tuple[Callable[[Any], Any], Any]]:
    """Calls ``apply`` (pickle) from a task and waits for each result."""
    return [apply(operator.neg, v).result for v in values]


def touch(path: str) -> str:
    """Called when a :class:`Tripwire` is unpickled: leaves a file behind."""
    Path(path).touch()
    return path


class Tripwire:
    """Unpickling it creates a file: proof that a refused message was never decoded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[[str], str], tuple[str]]:
        return touch, (self.path,)


@app.task(serializer="pickle")
def swallow(value: Any) -> str:
    return repr(value)


# -- a Task subclass with its own error classes (as the Celery layer's) --------------------


class SoftLimit(SoftTimeLimitExceeded):
    """Celery's soft-limit class, as the Celery layer subclasses it."""


class HardLimit(TimeLimitExceeded):
    """Celery's hard-limit class, subclassed."""


class Revoked(TaskRevokedError):
    """Celery's revoked error, subclassed."""


class CeleryLikeTask(Task[Any, Any]):
    soft_timeout_error = SoftLimit
    timeout_error = HardLimit
    cancelled_error = Revoked


def note(directory: str, event: str) -> None:
    with open(Path(directory) / "events", "a") as file:
        file.write(f"{event}\n")


def events(directory: str | Path) -> list[str]:
    path = Path(directory) / "events"
    return path.read_text().splitlines() if path.exists() else []


def _wait_for_release(directory: str, checkpoint: Callable[[], None] | None = None) -> None:
    release = Path(directory) / "release"
    deadline = time.monotonic() + LONG
    while not release.exists() and time.monotonic() < deadline:
        if checkpoint is not None:
            checkpoint()
        time.sleep(0.02)


@app.task(task_cls=CeleryLikeTask, soft_timeout=SOFT, timeout=60)
def soft_limited(directory: str, cooperative: bool) -> str:
    """Past its soft limit it gets ``SoftLimit`` (caught as Celery's class) and says so."""
    note(directory, f"started {os.getpid()}")
    try:
        if cooperative:  # thread runners: the limit is seen at a checkpoint
            _wait_for_release(directory, soft_limited.invocation.checkpoint)
        else:  # a process runner's child: the signal interrupts the sleep
            time.sleep(LONG)
    except SoftTimeLimitExceeded as exc:
        note(directory, f"soft {type(exc).__name__} {getattr(exc, 'limit', None)}")
        return type(exc).__name__
    return "never told"


@app.task(task_cls=CeleryLikeTask, timeout=HARD)
def hard_limited(directory: str) -> str:
    """Runs past its hard limit without looking: the waiter gets ``HardLimit``."""
    note(directory, f"started {os.getpid()}")
    _wait_for_release(directory)
    return "late"


@app.task(task_cls=CeleryLikeTask)
def cancellable(directory: str) -> str:
    """Loops on ``checkpoint()`` until cancelled (``Revoked`` raised there)."""
    note(directory, f"started {os.getpid()}")
    try:
        _wait_for_release(directory, cancellable.invocation.checkpoint)
    except TaskRevokedError as exc:
        note(directory, f"stopped {type(exc).__name__}")
        raise
    return "never cancelled"


@app.task(task_cls=CeleryLikeTask)
def cancels_itself() -> str:
    """Cancels itself, then stops at the checkpoint that follows (dev sync mode too)."""
    cancels_itself.invocation.cancel(reason="enough")
    cancels_itself.invocation.checkpoint()
    return "not stopped"


# -- call metadata ---------------------------------------------------------------------------


def _view(invocation: Any) -> dict[str, Any]:
    return {
        "id": invocation.invocation_id,
        "parent": invocation.parent_id,
        "root": invocation.root_id,
        "headers": invocation.headers,
    }


@app.task
def describe() -> dict[str, Any]:
    """What the running invocation knows of its call: id, parent, root, headers."""
    return _view(describe.invocation)


@app.task
def nest(depth: int) -> list[dict[str, Any]]:
    """Calls itself ``depth`` levels deeper, the last level ``describe`` with headers of
    its own; each level's view, top first."""
    mine = _view(nest.invocation)
    if depth == 0:
        return [mine, describe.with_options(headers={"level": "leaf"})().result]
    return [mine, *nest(depth - 1).result]
