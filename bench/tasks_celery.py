"""Celery app and tasks of the bench. ``make_tasks`` builds them for given URLs; the
module-level ``app`` (what ``celery -A bench.tasks_celery worker`` loads) reads
``BENCH_CELERY_BROKER_URL`` and ``BENCH_CELERY_RESULT_BACKEND`` from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from celery import Celery  # type: ignore[import-untyped]

#: settings changed from Celery's defaults, and why (everything else is left at its default)
CHANGED_SETTINGS: dict[str, Any] = {
    # silences the 5.x deprecation warning; the bench starts workers after their broker
    "broker_connection_retry_on_startup": True,
}


@dataclass(frozen=True)
class CeleryTasks:
    """One Celery app and its tasks (Celery task objects, untyped)."""

    app: Celery
    noop: Any
    echo: Any
    add: Any
    total: Any
    inc: Any


def make_tasks(broker_url: str, result_backend: str | None, *, eager: bool = False) -> CeleryTasks:
    """A fresh Celery app on ``broker_url``/``result_backend`` with the bench's tasks."""
    app = Celery("bench", broker=broker_url, backend=result_backend, set_as_current=False)
    app.conf.update(CHANGED_SETTINGS)
    if eager:
        app.conf.task_always_eager = True

    @app.task(name="bench.noop", shared=False)  # type: ignore[untyped-decorator]
    def noop() -> None:
        return None

    @app.task(name="bench.echo", shared=False)  # type: ignore[untyped-decorator]
    def echo(x: int) -> int:
        return x

    @app.task(name="bench.add", shared=False)  # type: ignore[untyped-decorator]
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="bench.total", shared=False)  # type: ignore[untyped-decorator]
    def total(results: list[int]) -> int:
        return sum(results)

    @app.task(name="bench.inc", shared=False)  # type: ignore[untyped-decorator]
    def inc(x: int) -> int:
        return x + 1

    return CeleryTasks(app, noop, echo, add, total, inc)


_worker_tasks = make_tasks(
    os.environ.get("BENCH_CELERY_BROKER_URL", "memory://"),
    os.environ.get("BENCH_CELERY_RESULT_BACKEND") or None,
)
app = _worker_tasks.app
