"""Task bodies for the eager-mode parity tests, made into tasks of a real ``celery.Celery``
app and of a ``pynenc_celery_compat.Celery`` app by :func:`build` (the same functions on both,
so every test compares like with like)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import celery
from celery.exceptions import Ignore, Reject

import pynenc_celery_compat

#: what the task bodies saw, per attempt (the tests clear it)
SEEN: list[dict[str, Any]] = []

_count = itertools.count()


def request_view(request: Any) -> dict[str, Any]:
    """The request fields the parity tests compare."""
    return {
        "id": request.id,
        "args": request.args,
        "kwargs": request.kwargs,
        "retries": request.retries,
        "is_eager": request.is_eager,
        "called_directly": request.called_directly,
        "hostname": request.hostname,
        "delivery_info": request.delivery_info,
        "parent_id": request.parent_id,
        "root_id": request.root_id,
    }


def echo(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
    SEEN.append(request_view(self.request))
    return [args, kwargs]


def flaky(self: Any, failures: int, countdown: float = 30) -> int:
    SEEN.append(request_view(self.request))
    if self.request.retries < failures:
        raise self.retry(exc=KeyError(failures), countdown=countdown)
    return int(self.request.retries)


def auto(self: Any, failures: int) -> int:
    SEEN.append(request_view(self.request))
    if self.request.retries < failures:
        raise KeyError(failures)
    return int(self.request.retries)


def boom(message: str) -> None:
    raise ValueError(message)


def parent(self: Any) -> list[Any]:
    SEEN.append(request_view(self.request))
    child = self.app.tasks[self.name.replace(".parent", ".echo")]
    return list(child.delay("from parent").get(disable_sync_subtasks=False))


def joins(self: Any) -> Any:
    child = self.app.tasks[self.name.replace(".joins", ".echo")]
    return child.delay("inner").get()


def progress(self: Any, look: bool = True) -> str:
    self.update_state(state="PROGRESS", meta={"done": 1})
    if not look:
        return "finished"
    seen = self.app.AsyncResult(self.request.id)
    SEEN.append({"state": seen.state, "info": seen.info})
    return "finished"


def ignored() -> None:
    raise Ignore()


def rejected() -> None:
    raise Reject("no thanks", requeue=False)


#: body -> decorator options
BODIES: dict[Any, dict[str, Any]] = {
    echo: {"bind": True},
    flaky: {"bind": True, "max_retries": 2},
    auto: {"bind": True, "autoretry_for": (KeyError,), "max_retries": 2, "retry_backoff": 30},
    boom: {},
    parent: {"bind": True},
    joins: {"bind": True},
    progress: {"bind": True},
    ignored: {},
    rejected: {},
}


def make_app(kind: str, backend: str | None = "cache+memory://", **settings: Any) -> Any:
    """A fresh app of ``kind`` (``"celery"`` or ``"compat"``) with ``settings`` applied
    before any task is bound (Celery reads ``task_store_eager_result`` at bind time)."""
    cls = celery.Celery if kind == "celery" else pynenc_celery_compat.Celery
    app = cls(
        f"eager{next(_count)}",
        broker="memory://",
        backend=backend,
        set_as_current=False,
    )
    app.conf.update({"task_always_eager": True, **settings})
    return app


def build(app: Any) -> SimpleNamespace:
    """Every body of :data:`BODIES` as a task of ``app``, named ``<app.main>.<body>``."""
    tasks = {}
    for body, options in BODIES.items():
        extra = {"shared": False} if not isinstance(app, pynenc_celery_compat.Celery) else {}
        name = f"{app.main}.{body.__name__}"
        tasks[body.__name__] = app.task(name=name, **options, **extra)(body)
    app.finalize()
    return SimpleNamespace(**tasks)
