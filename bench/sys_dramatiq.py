"""dramatiq under measurement: a worker subprocess, its broker, results in Redis.

Worker: ``python -m dramatiq bench.tasks_dramatiq:setup --processes 1 --threads 8`` (one
worker process under dramatiq's supervisor, 8 worker threads), dramatiq's ``RedisBroker``
on the redis transport and its ``RabbitmqBroker`` on the rabbitmq one, the ``Results``
middleware with a ``RedisBackend`` on the transport's Redis, ``GroupCallbacks`` for the
chord; everything else at dramatiq's defaults (prefetch twice the threads, worker timeout 1 s,
JSON). The caller is this process, with the same actors on a broker of its own.

The chord is a ``group`` with a completion callback. dramatiq passes the callback no
results, so the members get message ids the body can rebuild (``<chord id>.<i>``) and the
body reads their results from the result backend (one read per member) before it sums
them; the chain is a ``pipeline``.
"""

from __future__ import annotations

import contextlib
import time
import uuid

import redis
from dramatiq import group, pipeline

from bench.measure import (
    Metrics,
    Unavailable,
    chain_metrics,
    chord_metrics,
    latency_metrics,
    rate_metrics,
    remaining,
)
from bench.procs import WorkerProcess, python_argv, wait_ready
from bench.settings import WORKER_THREADS
from bench.system import System
from bench.tasks_dramatiq import (
    BROKER_ENV,
    REDIS_ENV,
    RESULTS_NAMESPACE,
    DramatiqTasks,
    echo_member,
    make_tasks,
)

#: how long a stopping worker lets running tasks finish (dramatiq's default: 10 minutes)
SHUTDOWN_TIMEOUT_MS = 5000

WORKER_ARGS = (
    "-m",
    "dramatiq",
    "bench.tasks_dramatiq:setup",
    "--processes",
    "1",
    "--threads",
    str(WORKER_THREADS),
    "--worker-shutdown-timeout",
    str(SHUTDOWN_TIMEOUT_MS),
)


def wait_ms(deadline: float) -> int:
    """What is left before ``deadline`` as a dramatiq timeout in ms. Its Redis result
    backend blocks in whole seconds (``BRPOPLPUSH``) and does not block at all below one,
    so never less than 1 s."""
    return max(1000, int(remaining(deadline) * 1000))


class DramatiqSystem(System):
    """A dramatiq caller in this process and one worker subprocess (8 threads)."""

    name = "dramatiq"
    tasks: DramatiqTasks | None = None
    worker: WorkerProcess | None = None

    def start(self) -> None:
        transport = self.transport
        if transport.redis_url is None:
            raise Unavailable(
                f"the bench runs dramatiq on redis and rabbitmq, not {transport.name}"
            )
        try:
            self.tasks = make_tasks(transport.broker_url, transport.redis_url)
        except ValueError as exc:
            raise Unavailable(str(exc)) from None
        env = {BROKER_ENV: transport.broker_url, REDIS_ENV: transport.redis_url}
        worker = WorkerProcess(
            f"dramatiq-worker-{transport.name}", python_argv(*WORKER_ARGS), env, transport.workdir
        )
        self.worker = worker
        worker.start()
        tasks = self.tasks
        wait_ready(
            lambda: self._check(tasks.echo.send(7), 7, time.monotonic() + 2.0),
            worker,
            self.settings.start_timeout,
        )

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(self.settings.stop_grace)
            self.worker = None
        if self.tasks is not None:
            tasks, self.tasks = self.tasks, None
            # closing the connections of a dead server may fail; there is nothing to release.
            # pika's connections belong to the lane's thread that made them: closed there
            with contextlib.suppress(Exception):
                self.lane.call(tasks.broker.close, 10.0)
            for client in tasks.redis_clients():
                with contextlib.suppress(Exception):
                    client.connection_pool.disconnect()

    def reset(self) -> None:
        tasks = self._tasks()
        tasks.broker.flush_all()
        client: redis.Redis = tasks.backend.client
        keys = list(client.scan_iter(match=f"{RESULTS_NAMESPACE}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])

    def throughput(self, n: int, deadline: float) -> Metrics:
        tasks = self._tasks()
        noop, backend = tasks.noop, tasks.backend
        started = time.perf_counter()
        messages = [noop.send() for _ in range(n)]
        enqueued = time.perf_counter()
        for message in messages:
            message.get_result(backend=backend, block=True, timeout=wait_ms(deadline))
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def roundtrip(self, n: int, deadline: float) -> Metrics:
        echo = self._tasks().echo
        latencies = []
        for i in range(n):
            start = time.perf_counter()
            self._check(echo.send(i), i, deadline)
            latencies.append(time.perf_counter() - start)
        return latency_metrics(latencies)

    def parallel(self, n: int, deadline: float) -> Metrics:
        tasks = self._tasks()
        echo = tasks.echo
        started = time.perf_counter()
        fan_out = group([echo.message(i) for i in range(n)], broker=tasks.broker).run()
        enqueued = time.perf_counter()
        results = list(fan_out.get_results(block=True, timeout=wait_ms(deadline)))
        if results != list(range(n)):
            raise AssertionError("wrong results")
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def chord(self, n: int, deadline: float) -> Metrics:
        tasks = self._tasks()
        echo = tasks.echo
        started = time.perf_counter()
        chord_id = uuid.uuid4().hex
        members = [echo_member(echo, chord_id, i) for i in range(n)]
        body = tasks.total_of.message(chord_id, n)
        header = group(members, broker=tasks.broker)
        header.add_completion_callback(body)
        header.run()
        submitted = time.perf_counter()
        value = body.get_result(backend=tasks.backend, block=True, timeout=wait_ms(deadline))
        completed = time.perf_counter()
        if value != n * (n - 1) // 2:
            raise AssertionError(f"wrong chord result {value!r}")
        return chord_metrics(n, started, submitted, completed)

    def chain(self, n: int, deadline: float) -> Metrics:
        tasks = self._tasks()
        inc = tasks.inc
        started = time.perf_counter()
        steps = [inc.message(0), *[inc.message() for _ in range(n - 1)]]
        pipe = pipeline(steps, broker=tasks.broker).run()
        submitted = time.perf_counter()
        value = pipe.get_result(block=True, timeout=wait_ms(deadline))
        completed = time.perf_counter()
        if value != n:
            raise AssertionError(f"wrong chain result {value!r}")
        return chain_metrics(n, started, submitted, completed)

    def _check(self, message: object, expected: int, deadline: float) -> None:
        tasks = self._tasks()
        value = message.get_result(  # type: ignore[attr-defined]
            backend=tasks.backend, block=True, timeout=wait_ms(deadline)
        )
        if value != expected:
            raise AssertionError(f"wrong result {value!r}, expected {expected!r}")

    def _tasks(self) -> DramatiqTasks:
        assert self.tasks is not None, "start() first"
        return self.tasks
