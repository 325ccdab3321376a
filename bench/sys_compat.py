"""The Celery layer under measurement: Celery's calling API, pynenc underneath.

The caller uses Celery's API on a compat ``Celery`` app (``echo.delay(i).get()``,
``[noop.delay() …]`` then ``.get()`` of each); a pynenc runner subprocess runs the tasks:
``python -c "import bench.tasks_compat as m; m.app.pynenc.runner.run()"`` with
``runner.threads`` = 8, as the pynenc system's runner. Against ``pynenc`` it shows what the
layer costs; against ``celery`` the same calling code on Celery. The chord and chain
scenarios use the layer's canvas (``pynenc_celery_compat.chord``/``chain``, Celery's
calling code) and are reported unavailable while the layer has none.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pynenc_celery_compat
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
from bench.tasks_compat import CompatTasks, make_tasks

RUNNER_CODE = "import bench.tasks_compat as m; m.app.pynenc.runner.run()"


class CompatSystem(System):
    """A compat Celery client in this process and one pynenc runner subprocess."""

    name = "compat"
    #: the parallel fan-out (``group``) is not measured through the layer
    scenarios = ("throughput", "roundtrip", "chord", "chain")
    tasks: CompatTasks | None = None
    worker: WorkerProcess | None = None

    def start(self) -> None:
        transport = self.transport
        main = f"bench-compat-{transport.name}-{uuid.uuid4().hex[:8]}"
        self.tasks = make_tasks(main, transport.broker_url, transport.state_url)
        env = {
            "BENCH_COMPAT_APP": main,
            "BENCH_COMPAT_BROKER_URL": transport.broker_url,
            "BENCH_COMPAT_RESULT_BACKEND": transport.state_url,
            "PYNENC__RUNNER__THREADS": str(WORKER_THREADS),
        }
        argv = python_argv("-c", RUNNER_CODE)
        worker = WorkerProcess(f"compat-runner-{transport.name}", argv, env, transport.workdir)
        self.worker = worker
        worker.start()
        echo = self.tasks.echo
        wait_ready(lambda: echo.delay(7).get(timeout=2.0), worker, self.settings.start_timeout)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(self.settings.stop_grace)
            self.worker = None
        if self.tasks is not None:
            pynenc = self.tasks.app.pynenc
            if "broker" in vars(pynenc):  # built: it holds connections
                pynenc.broker.close()
            if "state_backend" in vars(pynenc):
                pynenc.state_backend.close()
            self.tasks = None

    def reset(self) -> None:
        assert self.tasks is not None
        self.tasks.app.pynenc.purge()

    def warm_up(self) -> None:
        deadline = time.monotonic() + self.settings.scenario_timeout
        self.throughput(self.settings.warmup, deadline)
        self.roundtrip(10, deadline)
        self.warm_up_canvas(deadline)

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
        raise NotImplementedError("compat: the group fan-out is not measured; see scenarios")

    def chord(self, n: int, deadline: float) -> Metrics:
        assert self.tasks is not None
        echo = self.tasks.echo
        started = time.perf_counter()
        pending = _canvas("chord")([echo.s(i) for i in range(n)])(self.tasks.total.s())
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
        pending = _canvas("chain")(inc.s(0), *[inc.s() for _ in range(n - 1)]).apply_async()
        submitted = time.perf_counter()
        value = pending.get(timeout=remaining(deadline))
        completed = time.perf_counter()
        if value != n:
            raise AssertionError(f"wrong chain result {value!r}")
        return chain_metrics(n, started, submitted, completed)


def _canvas(name: str) -> Any:
    """The layer's ``chord`` or ``chain``; :class:`Unavailable` while it has none."""
    found = getattr(pynenc_celery_compat, name, None)
    if found is None:
        raise Unavailable(f"pynenc_celery_compat has no {name} yet (its canvas)")
    return found
