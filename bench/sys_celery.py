"""Celery under measurement: a worker subprocess, Redis result backend, defaults elsewhere.

Worker: ``celery -A bench.tasks_celery worker --pool threads --concurrency 8`` and nothing
else changed (prefetch multiplier 4, early acks, ``-O default``, gossip, mingle and heartbeats
on), which is how most Celery deployments with a thread pool run.
"""

from __future__ import annotations

import contextlib
import time

from celery import chain, chord, group  # type: ignore[import-untyped]

from bench.measure import (
    Metrics,
    chain_metrics,
    chord_metrics,
    latency_metrics,
    rate_metrics,
    remaining,
)
from bench.procs import WorkerProcess, python_argv, wait_ready
from bench.settings import WORKER_THREADS
from bench.system import System
from bench.tasks_celery import CeleryTasks, make_tasks

WORKER_ARGS = (
    "-m",
    "celery",
    "-A",
    "bench.tasks_celery",
    "worker",
    "--pool",
    "threads",
    "--concurrency",
    str(WORKER_THREADS),
    "--loglevel",
    "WARNING",
)


class CelerySystem(System):
    """A Celery client in this process and one worker subprocess."""

    name = "celery"
    tasks: CeleryTasks | None = None
    worker: WorkerProcess | None = None

    def start(self) -> None:
        transport = self.transport
        self.tasks = make_tasks(transport.broker_url, transport.state_url)
        env = {
            "BENCH_CELERY_BROKER_URL": transport.broker_url,
            "BENCH_CELERY_RESULT_BACKEND": transport.state_url,
        }
        argv = python_argv(*WORKER_ARGS, "--hostname", f"bench-{transport.name}@%h")
        worker = WorkerProcess(f"celery-worker-{transport.name}", argv, env, transport.workdir)
        self.worker = worker
        worker.start()
        echo = self.tasks.echo
        wait_ready(lambda: echo.delay(7).get(timeout=2.0), worker, self.settings.start_timeout)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(self.settings.stop_grace)
            self.worker = None
        if self.tasks is not None:
            with contextlib.suppress(Exception):  # closing pools of a dead broker may fail
                self.tasks.app.close()
            self.tasks = None

    def reset(self) -> None:
        assert self.tasks is not None
        self.tasks.app.control.purge()

    def throughput(self, n: int, deadline: float) -> Metrics:
        assert self.tasks is not None
        noop = self.tasks.noop
        started = time.perf_counter()
        results = [noop.delay() for _ in range(n)]
        enqueued = time.perf_counter()
        for result in results:
            result.get(timeout=remaining(deadline))
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def roundtrip(self, n: int, deadline: float) -> Metrics:
        assert self.tasks is not None
        echo = self.tasks.echo
        latencies = []
        for i in range(n):
            start = time.perf_counter()
            if echo.delay(i).get(timeout=remaining(deadline)) != i:
                raise AssertionError("wrong result")
            latencies.append(time.perf_counter() - start)
        return latency_metrics(latencies)

    def parallel(self, n: int, deadline: float) -> Metrics:
        assert self.tasks is not None
        echo = self.tasks.echo
        started = time.perf_counter()
        pending = group(echo.s(i) for i in range(n)).apply_async()
        enqueued = time.perf_counter()
        if pending.get(timeout=remaining(deadline)) != list(range(n)):
            raise AssertionError("wrong results")
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def chord(self, n: int, deadline: float) -> Metrics:
        assert self.tasks is not None
        echo = self.tasks.echo
        started = time.perf_counter()
        pending = chord([echo.s(i) for i in range(n)])(self.tasks.total.s())
        submitted = time.perf_counter()
        value = pending.get(timeout=remaining(deadline))
        completed = time.perf_counter()
        if value != n * (n - 1) // 2:
            raise AssertionError(f"wrong chord result {value!r}")
        return chord_metrics(n, started, submitted, completed)

    def chain(self, n: int, deadline: float) -> Metrics:
        assert self.tasks is not None
        inc = self.tasks.inc
        started = time.perf_counter()
        pending = chain(inc.s(0), *[inc.s() for _ in range(n - 1)]).apply_async()
        submitted = time.perf_counter()
        value = pending.get(timeout=remaining(deadline))
        completed = time.perf_counter()
        if value != n:
            raise AssertionError(f"wrong chain result {value!r}")
        return chain_metrics(n, started, submitted, completed)
