"""Tasks the bench runs through the Celery layer (``pynenc_celery_compat``).

``make_tasks`` builds a compat ``Celery`` app and its tasks for given URLs (the caller side,
one app per transport block); the module-level ``app`` is what the runner subprocess loads:
it reads ``BENCH_COMPAT_APP``, ``BENCH_COMPAT_BROKER_URL`` and ``BENCH_COMPAT_RESULT_BACKEND``
and runs ``app.pynenc.runner.run()``. The task names are the same on both sides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pynenc_celery_compat import Celery


@dataclass(frozen=True)
class CompatTasks:
    """One compat Celery app and its tasks (compat task objects, untyped)."""

    app: Any
    noop: Any
    echo: Any
    total: Any
    inc: Any


def make_tasks(main: str, broker_url: str, result_backend: str | None) -> CompatTasks:
    """A fresh compat app named ``main`` (the pynenc app id) with the bench's tasks."""
    app = Celery(main, broker=broker_url, backend=result_backend, set_as_current=False)

    @app.task(name="bench.compat.noop", shared=False)
    def noop() -> None:
        return None

    @app.task(name="bench.compat.echo", shared=False)
    def echo(x: int) -> int:
        return x

    @app.task(name="bench.compat.total", shared=False)
    def total(results: list[int]) -> int:
        return sum(results)

    @app.task(name="bench.compat.inc", shared=False)
    def inc(x: int) -> int:
        return x + 1

    return CompatTasks(app, noop, echo, total, inc)


_runner_tasks = make_tasks(
    os.environ.get("BENCH_COMPAT_APP", "bench-compat"),
    os.environ.get("BENCH_COMPAT_BROKER_URL", "memory://"),
    os.environ.get("BENCH_COMPAT_RESULT_BACKEND") or None,
)
app = _runner_tasks.app
