"""Sync/eager mode: the cost of one call when nothing leaves the process.

Variants (µs per call, ``add(1, 2)``):

- pynenc ``dev_mode_force_sync_tasks``: a ``direct_task`` call, and ``task(1, 2).result``;
- Celery ``task_always_eager``: ``add.delay(1, 2).get()``, ``add.apply((1, 2)).get()`` and,
  for reference, calling the task object ``add(1, 2)``;
- a plain function call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import tasks_embedded
from bench.measure import Metrics

#: system -> metric -> a function that makes ``count`` calls
Variants = dict[str, dict[str, Callable[[int], None]]]


def _loop(call: Callable[[], Any]) -> Callable[[int], None]:
    def run(count: int) -> None:
        for _ in range(count):
            call()

    return run


def _pynenc_variants() -> dict[str, Callable[[int], None]]:
    app = tasks_embedded.app
    add, add_direct = tasks_embedded.add, tasks_embedded.add_direct

    def direct_task(count: int) -> None:
        app.conf.dev_mode_force_sync_tasks = True
        try:
            for _ in range(count):
                add_direct(1, 2)
        finally:
            app.conf.dev_mode_force_sync_tasks = False

    def task_result(count: int) -> None:
        app.conf.dev_mode_force_sync_tasks = True
        try:
            for _ in range(count):
                _ = add(1, 2).result  # reading .result is the call under test
        finally:
            app.conf.dev_mode_force_sync_tasks = False

    return {"direct_task_us": direct_task, "task_result_us": task_result}


def _celery_variants() -> dict[str, Callable[[int], None]]:
    from bench.tasks_celery import make_tasks

    add = make_tasks("memory://", None, eager=True).add
    return {
        "delay_get_us": _loop(lambda: add.delay(1, 2).get()),
        "apply_get_us": _loop(lambda: add.apply((1, 2)).get()),
        "call_us": _loop(lambda: add(1, 2)),
    }


def variants(systems: tuple[str, ...]) -> Variants:
    """What to measure for the selected systems; the plain call is always measured."""
    found: Variants = {}
    if "pynenc" in systems:
        found["pynenc"] = _pynenc_variants()
    if "celery" in systems:
        found["celery"] = _celery_variants()
    found["plain"] = {"call_us": _loop(lambda: tasks_embedded.plain_add(1, 2))}
    return found


def measure(run: Callable[[int], None], calls: int) -> float:
    """µs per call: the best of 5 equal slices of ``calls``, each timed as one loop.

    The best slice is the cost without interference (a GC pass, another thread); the
    medians over rounds then smooth what is left.
    """
    slice_size = max(1, calls // 5)
    run(min(slice_size, 200))  # warm caches and lazily built objects
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        run(slice_size)
        best = min(best, (time.perf_counter() - start) / slice_size)
    return best * 1e6


def measure_system(funcs: dict[str, Callable[[int], None]], calls: int) -> Metrics:
    return {metric: measure(run, calls) for metric, run in funcs.items()}
