"""Timing helpers: percentiles, medians, deadlines, and running a measurement under a time bound."""

from __future__ import annotations

import math
import queue
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

#: one measurement's figures, e.g. {"complete_per_s": 812.0, "seconds": 1.23}
Metrics = dict[str, float]


class Unavailable(Exception):
    """A system or transport cannot run here (yet); the message says why."""


class MeasurementTimeout(Exception):
    """A measurement did not finish within its bound."""


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (nearest rank; samples need not be sorted)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def remaining(deadline: float) -> float:
    """Seconds left before ``deadline`` (a ``time.monotonic()`` value); raises when none."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise MeasurementTimeout("deadline passed")
    return left


def latency_metrics(latencies: Sequence[float]) -> Metrics:
    """p50/p99/mean of per-call latencies given in seconds, reported in milliseconds."""
    return {
        "p50_ms": percentile(latencies, 0.50) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "mean_ms": statistics.fmean(latencies) * 1e3,
        "calls": float(len(latencies)),
    }


def rate_metrics(n: int, started: float, enqueued: float, completed: float) -> Metrics:
    """Enqueue and end-to-end completion rates of ``n`` tasks from ``perf_counter`` stamps."""
    return {
        "enqueue_per_s": n / max(enqueued - started, 1e-9),
        "complete_per_s": n / max(completed - started, 1e-9),
        "seconds": completed - started,
        "tasks": float(n),
    }


def chord_metrics(members: int, started: float, submitted: float, completed: float) -> Metrics:
    """Figures of a chord of ``members`` from ``perf_counter`` stamps: ``seconds`` from the
    call (building it included) to the body's result in the caller's hands, ``submit_s``
    until the call returned, ``complete_per_s``: invocations (members and body) per second."""
    seconds = max(completed - started, 1e-9)
    return {
        "seconds": seconds,
        "submit_s": submitted - started,
        "complete_per_s": (members + 1) / seconds,
        "tasks": float(members + 1),
    }


def chain_metrics(steps: int, started: float, submitted: float, completed: float) -> Metrics:
    """Figures of a chain of ``steps`` from ``perf_counter`` stamps: ``seconds`` from the
    call (building it included) to the last step's result in the caller's hands,
    ``submit_s`` until the call returned, ``ms_per_step``: seconds / steps in ms."""
    seconds = max(completed - started, 1e-9)
    return {
        "seconds": seconds,
        "submit_s": submitted - started,
        "ms_per_step": seconds / steps * 1e3,
        "tasks": float(steps),
    }


class _Box:
    """Where a lane's thread leaves one call's outcome."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None


#: a call and its box; ``None`` tells the lane's thread to end
_Job = tuple[Callable[[], object], _Box] | None


class Lane:
    """One daemon thread that runs a system's calls in turn, each under a time bound.

    Calls share the thread, so a client's thread-local connections (pynenc's publisher,
    Celery's result backend) are made once and reused. A call that overruns its bound
    abandons the thread (it is a daemon: it cannot keep the bench alive) and the next call
    gets a new one.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] | None = None

    def _start(self) -> queue.SimpleQueue[_Job]:
        jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        thread = threading.Thread(target=_serve, args=(jobs,), name=self.name, daemon=True)
        thread.start()
        self._jobs = jobs
        return jobs

    def call(self, func: Callable[[], T], timeout: float) -> T:
        """``func()`` on the lane's thread; :class:`MeasurementTimeout` after ``timeout`` s."""
        jobs = self._jobs or self._start()
        box = _Box()
        jobs.put((func, box))
        if not box.done.wait(timeout):
            self._jobs = None  # abandon the stuck thread
            raise MeasurementTimeout(f"{self.name}: no answer within {timeout:.0f} s")
        if box.error is not None:
            raise box.error
        return box.value  # type: ignore[return-value]

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.put(None)
            self._jobs = None


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while (job := jobs.get()) is not None:
        func, box = job
        try:
            box.value = func()
        except BaseException as exc:  # handed to the caller
            box.error = exc
        finally:
            box.done.set()
