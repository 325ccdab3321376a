"""``python -m bench.switchback_cost``: what switching back to Celery costs a call that
stays on pynenc, and what Celery-exact publish signals cost when a receiver listens.

``delay(1, 2)`` of a compat task on memory:// (no runner: the call path only), µs per call,
median and minimum of interleaved rounds (shuffled order):

- ``no check``: the switch-back check replaced by ``False`` (the floor);
- ``unset``: no setting, no environment variable (every project that does not use it);
- ``set, no match``: ``pynenc_celery_tasks`` names other tasks;
- ``env, no match``: ``PYNENC_CELERY_TASKS`` names other tasks;
- ``publish receiver``: a ``before_task_publish`` receiver connected (Celery's message is
  built for it).

Then the check alone (ns per call), unset and set.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import signals

from bench import switchback_tasks as tasks
from pynenc_celery_compat import routing


@contextmanager
def _mode(name: str) -> Iterator[None]:
    original = routing.routed_to_celery
    receiver: Callable[..., None] = lambda **_: None  # noqa: E731
    if name == "no check":
        routing.routed_to_celery = lambda task, app: task.__dict__.get("pynenc_task") is None
    elif name == "set, no match":
        tasks.app.conf.pynenc_celery_tasks = ["billing.tasks", "reports.*"]
    elif name == "env, no match":
        os.environ[routing.ENV_VAR] = "billing.tasks,reports.*"
        routing.reload()
    elif name == "publish receiver":
        signals.before_task_publish.connect(receiver, weak=False)
    try:
        yield
    finally:
        routing.routed_to_celery = original
        tasks.app.conf.pynenc_celery_tasks = None
        os.environ.pop(routing.ENV_VAR, None)
        routing.reload()
        signals.before_task_publish.disconnect(receiver)


MODES = ["no check", "unset", "set, no match", "env, no match", "publish receiver"]


def _per_call(calls: int) -> float:
    delay = tasks.add.delay
    start = time.perf_counter()
    for _ in range(calls):
        delay(1, 2)
    return (time.perf_counter() - start) / calls * 1e6


def _check_ns(calls: int) -> float:
    task, app, check = tasks.add, tasks.app, routing.routed_to_celery
    start = time.perf_counter()
    for _ in range(calls):
        check(task, app)
    return (time.perf_counter() - start) / calls * 1e9


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds")
    options = parser.parse_args(argv)
    os.environ.pop(routing.ENV_VAR, None)
    routing.reload()
    tasks.add.delay(1, 2)  # build the pynenc app, warm the path
    figures: dict[str, list[float]] = {mode: [] for mode in MODES}
    order = list(MODES)
    shuffle = random.Random(12).shuffle
    for _ in range(options.rounds):
        shuffle(order)  # no mode always follows the same one
        for mode in order:
            tasks.app.pynenc.purge()
            gc.collect()
            with _mode(mode):
                figures[mode].append(_per_call(options.n))
    report: dict[str, Any] = {}
    print(f"delay(1, 2) on memory://, µs per call ({options.rounds} rounds: median, min)")
    floor = statistics.median(figures["no check"])
    for mode in MODES:
        median, best = statistics.median(figures[mode]), min(figures[mode])
        report[mode] = {"median": median, "min": best}
        print(f"  {mode:18s} {median:7.1f} {best:7.1f}   {median - floor:+6.1f} vs no check")
    for mode in ("unset", "set, no match"):
        with _mode(mode):
            nanos = statistics.median(_check_ns(100_000) for _ in range(5))
        report[f"check {mode} ns"] = nanos
        print(f"  check alone, {mode:14s} {nanos:6.0f} ns")
    return report


if __name__ == "__main__":
    main()
