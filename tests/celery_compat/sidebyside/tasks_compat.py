"""Tasks of the side-by-side suite, written once against Celery's public API.

``tasks_celery.py`` and ``tasks_compat.py`` are the same text except the import lines
(``test_twins.py`` checks it): the suite runs each on its own worker and expects the same
behaviour. Edit one, then copy it over the other and swap the imports back.

Tasks that must be held while the caller looks at them wait on a *gate*: a directory where
the task writes ``started`` and waits for the test to write ``release`` (files, so a task on
a worker in another process is held the same way).

Canvas callbacks write down what they were given in a Redis list of the flavour's Redis
(``record``, ``errback``): the test waits for the entries with ``BLPOP``, whichever process
and whichever kind of call (a task, or an errback Celery calls inline) ran the callback.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from pynenc_celery_compat import Celery, Task, current_task, exceptions, shared_task

app = Celery(__name__)

#: (hook name, task id, payload) for every hook a ``Recording`` task ran, in order
HOOKS: list[tuple[str, str, dict[str, Any]]] = []

GATE_TIMEOUT = 60.0


class Boom(Exception):
    """A custom exception: re-raised on the caller with its class and its args."""


class Recording(Task):  # type: ignore[misc]
    """A base class whose hooks write down the arguments Celery calls them with."""

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        HOOKS.append(("before_start", task_id, {"args": args, "kwargs": kwargs}))

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        HOOKS.append(("on_success", task_id, {"retval": retval, "args": args, "kwargs": kwargs}))
        if retval == "explode":
            raise Boom("on_success raised")

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        payload = {"exc": exc, "args": args, "kwargs": kwargs, "einfo": einfo}
        HOOKS.append(("on_failure", task_id, payload))

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        payload = {"exc": exc, "args": args, "kwargs": kwargs, "einfo": einfo}
        HOOKS.append(("on_retry", task_id, payload))

    def after_return(
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        payload = {"status": status, "retval": retval, "args": args, "kwargs": kwargs}
        HOOKS.append(("after_return", task_id, {**payload, "einfo": einfo}))


def hold(gate: str) -> None:
    """Say ``started`` through ``gate`` and wait until the test releases it."""
    folder = Path(gate)
    (folder / "started").write_text(str(os.getpid()))
    deadline = time.monotonic() + GATE_TIMEOUT
    while not (folder / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} was never released")
        time.sleep(0.01)


# -- values --------------------------------------------------------------------------------


@app.task
def add(x: int, y: int) -> int:
    return x + y


@shared_task
def multiply(x: int, y: int) -> int:
    return x * y


@app.task
def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """What arrived, and the type of each value."""
    return {
        "args": args,
        "kwargs": kwargs,
        "types": [type(value).__name__ for value in args],
        "kwarg_types": {name: type(value).__name__ for name, value in kwargs.items()},
    }


@app.task
def boom(*args: Any) -> None:
    raise Boom(*args)


@app.task(ignore_result=True)
def quiet(x: int) -> int:
    return x


@app.task
def where() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


# -- states --------------------------------------------------------------------------------


@app.task(track_started=True)
def tracked(gate: str) -> str:
    hold(gate)
    return "done"


@app.task
def untracked(gate: str) -> str:
    hold(gate)
    return "done"


@app.task(bind=True)
def progress(self: Any, gate: str) -> str:
    self.update_state(state="PROGRESS", meta={"step": 1, "of": 2})
    hold(gate)
    return "finished"


# -- the bound request ---------------------------------------------------------------------


def request_of(task: Any) -> dict[str, Any]:
    request = task.request
    return {
        "id": request.id,
        "task": getattr(request, "task", None),
        "args": request.args,
        "kwargs": request.kwargs,
        "retries": request.retries,
        "is_eager": request.is_eager,
        "called_directly": request.called_directly,
        "hostname": request.hostname,
        "delivery_info": request.delivery_info,
        "parent_id": request.parent_id,
        "root_id": request.root_id,
        "eta": request.eta,
        "expires": request.expires,
        "name": task.name,
        "max_retries": task.max_retries,
        "current_task_id": current_task.request.id if current_task else None,
    }


@app.task(bind=True)
def request_info(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return request_of(self)


@app.task(bind=True)
def nest(self: Any, depth: int) -> dict[str, Any]:
    """Call itself ``depth`` more times; each level reports its ids and its child's id."""
    child = nest.delay(depth - 1).id if depth else None
    return {**request_of(self), "child": child}


@app.task(bind=True)
def join_child(self: Any) -> int:
    """``get()`` of another task's result inside a task."""
    return int(add.delay(20, 22).get(timeout=30))


@app.task(bind=True)
def ignored(self: Any, state: str | None) -> None:
    """Celery's ``Ignore``: no result is stored (an ``update_state`` before it stays)."""
    if state is not None:
        self.update_state(state=state, meta={"why": "ignored"})
    raise exceptions.Ignore()


# -- retries -------------------------------------------------------------------------------


@app.task(bind=True, max_retries=3, default_retry_delay=0)
def retry_until(self: Any, succeed_at: int, countdown: float | None = None) -> dict[str, Any]:
    if self.request.retries < succeed_at:
        raise self.retry(countdown=countdown)
    return request_of(self)


@app.task(bind=True, max_retries=2, default_retry_delay=0)
def retry_forever_failing(self: Any, with_exc: bool) -> None:
    exc = Boom("attempt", self.request.retries) if with_exc else None
    raise self.retry(exc=exc)


@app.task(bind=True, max_retries=5, default_retry_delay=0)
def retry_override(self: Any) -> None:
    raise self.retry(exc=Boom("attempt", self.request.retries), max_retries=1)


@app.task(bind=True, max_retries=1)
def retry_once_after(self: Any, countdown: float) -> int:
    if self.request.retries == 0:
        raise self.retry(exc=Boom("wait"), countdown=countdown)
    return int(self.request.retries)


@app.task(bind=True, max_retries=None, default_retry_delay=0)
def retry_unbounded(self: Any, succeed_at: int) -> int:
    if self.request.retries < succeed_at:
        raise self.retry()
    return int(self.request.retries)


@app.task(bind=True, autoretry_for=(Boom,), max_retries=5, default_retry_delay=0)
def auto_until(self: Any, succeed_at: int) -> int:
    if self.request.retries < succeed_at:
        raise Boom("attempt", self.request.retries)
    return int(self.request.retries)


@app.task(
    bind=True,
    autoretry_for=(Boom,),
    retry_backoff=True,
    retry_jitter=False,
    retry_kwargs={"max_retries": 2},
)
def auto_backoff(self: Any) -> None:
    raise Boom("attempt", self.request.retries)


@app.task(bind=True, autoretry_for=(Boom,), max_retries=3, default_retry_delay=0)
def auto_other_error(self: Any) -> None:
    raise KeyError(self.request.retries)


@app.task(bind=True, max_retries=3, default_retry_delay=0)
def retry_failed_half(self: Any, items: list[str], countdown: float | None = None) -> Any:
    """Retry with only the ``bad…`` items (new arguments, ``throw=True``)."""
    failed = [item for item in items if item.startswith("bad")]
    if failed and self.request.retries == 0:
        raise self.retry(args=[failed], kwargs={"countdown": countdown}, countdown=countdown)
    return request_of(self)


@app.task(bind=True, max_retries=2, default_retry_delay=0)
def retry_each_failed(self: Any, items: list[str], key: str, keep_failing: bool) -> list[str]:
    """Retry each ``bad…`` item on its own with ``throw=False`` and go on with the rest;
    every run writes down its id, retry count and items under ``key``."""
    request = self.request
    write_down(key, {"id": request.id, "retries": request.retries, "items": items})
    done = []
    for item in items:
        if item.startswith("bad") and (keep_failing or request.retries == 0):
            self.retry(args=[[item], key, keep_failing], exc=Boom(item), throw=False)
        else:
            done.append(item)
    return done


# -- hooks ---------------------------------------------------------------------------------


@app.task(bind=True, base=Recording, max_retries=1, default_retry_delay=0)
def hooked(self: Any, mode: str, factor: int = 1) -> str:
    if mode == "fail":
        raise Boom("failed", factor)
    if mode == "retry" and self.request.retries == 0:
        raise self.retry(exc=Boom("again"))
    return mode * factor


# -- canvas --------------------------------------------------------------------------------


@functools.cache
def _redis(url: str) -> Any:
    # imported here: a third-party import next to the flavour's import line would sort
    # differently in the two files (celery is third-party, the compat package is not)
    import redis

    return redis.Redis.from_url(url)


def write_down(key: str, entry: dict[str, Any]) -> None:
    """Append ``entry`` (as JSON) to the Redis list ``key`` of the flavour's Redis."""
    _redis(app.conf.broker_url).rpush(key, json.dumps(entry))


@app.task
def sub(x: int, y: int) -> int:
    return x - y


@app.task
def tsum(values: list[int]) -> int:
    return sum(values)


@app.task(bind=True)
def lineage(self: Any, *received: Any) -> dict[str, Any]:
    """Where the call sits in its canvas (what it received is not returned)."""
    request = self.request
    return {
        "id": request.id,
        "parent_id": request.parent_id,
        "root_id": request.root_id,
        "group": request.group,
        "group_index": request.group_index,
    }


@app.task
def record(*args: Any, key: str, **kwargs: Any) -> list[Any]:
    """A callback: write down the arguments it was given; return the positional ones."""
    write_down(key, {"args": list(args), "kwargs": kwargs})
    return list(args)


@app.task
def errback(request: Any, exc: BaseException, traceback: Any, *, key: str) -> None:
    """A new-style error callback: write down the failed request, exception and traceback."""
    write_down(
        key,
        {
            "id": request.id,
            "task": request.task,
            "args": list(request.args or ()),
            "kwargs": dict(request.kwargs or {}),
            "exc": repr(exc),
            "exc_type": type(exc).__name__,
            "traceback": None if traceback is None else str(traceback).splitlines()[0],
        },
    )


@app.task
def old_errback(task_id: str, *, key: str) -> None:
    """An old-style error callback: one argument, the failed task's id."""
    write_down(key, {"task_id": task_id})


@app.task(bind=True)
def lineage_chain(self: Any) -> list[str]:
    """Send a chain of two ``lineage`` calls from inside a task: their ids, in order."""
    result = (lineage.s() | lineage.s()).delay()
    return [result.parent.id, result.id]


@app.task
def errback_lineage(request: Any, exc: BaseException, traceback: Any, *, key: str) -> None:
    """A new-style error callback: write down where the failed call sat in its canvas."""
    write_down(
        key,
        {
            "id": request.id,
            "parent_id": request.parent_id,
            "root_id": request.root_id,
            "group": request.group,
            "group_index": request.group_index,
        },
    )


@app.task
def stamped(*args: Any, key: str) -> list[Any]:
    """A step that writes down when it started (``at``, seconds since the epoch) and what
    it was given; returns the positional arguments."""
    write_down(key, {"args": list(args), "at": time.time()})
    return list(args)
