"""pynenc under measurement: embedded (runner thread) or with a runner subprocess.

Server transports and SQLite run the runner in its own process, started as
``python -c "import bench.tasks_pynenc as m; m.app.runner.run()"`` with the configuration in
``PYNENC__*`` environment variables, like a Celery worker. The bench process registers the
same task functions on an app of its own for the transport (same task ids, same app id).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from bench import tasks_embedded, tasks_pynenc
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
from pynenc import Pynenc, chain, chord
from pynenc.records import InvocationStatus

RUNNER_CODE = "import bench.tasks_pynenc as m; m.app.runner.run()"


class PynencSystem(System):
    """The three scenarios, the same for every pynenc mode."""

    name = "pynenc"
    app: Pynenc
    noop: Any
    echo: Any
    echo_direct: Any
    total: Any
    inc: Any
    #: a chain went through once: the state backend releases followers
    _composes = False

    def reset(self) -> None:
        self.app.purge()

    def throughput(self, n: int, deadline: float) -> Metrics:
        noop = self.noop
        started = time.perf_counter()
        invocations = [noop() for _ in range(n)]
        enqueued = time.perf_counter()
        for invocation in invocations:
            invocation.get_result(timeout=remaining(deadline))
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def roundtrip(self, n: int, deadline: float) -> Metrics:
        echo_direct = self.echo_direct
        latencies = []
        for i in range(n):
            start = time.perf_counter()
            if echo_direct(i) != i:
                raise AssertionError("wrong result")
            latencies.append(time.perf_counter() - start)
            remaining(deadline)
        return latency_metrics(latencies)

    def parallel(self, n: int, deadline: float) -> Metrics:
        started = time.perf_counter()
        group = self.echo.parallelize([(i,) for i in range(n)])
        enqueued = time.perf_counter()
        results = list(group.results)
        if results != list(range(n)):
            raise AssertionError("wrong results")
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def chord(self, n: int, deadline: float) -> Metrics:
        self._check_composition(deadline)
        echo = self.echo
        started = time.perf_counter()
        handle = chord([echo.sig(i) for i in range(n)], self.total.sig()).run()
        submitted = time.perf_counter()
        value = handle.last.get_result(timeout=remaining(deadline))
        completed = time.perf_counter()
        if value != n * (n - 1) // 2:
            raise AssertionError(f"wrong chord result {value!r}")
        return chord_metrics(n, started, submitted, completed)

    def chain(self, n: int, deadline: float) -> Metrics:
        self._check_composition(deadline)
        inc = self.inc
        started = time.perf_counter()
        handle = chain(inc.sig(0), *[inc.sig() for _ in range(n - 1)]).run()
        submitted = time.perf_counter()
        value = handle.last.get_result(timeout=remaining(deadline))
        completed = time.perf_counter()
        if value != n:
            raise AssertionError(f"wrong chain result {value!r}")
        return chain_metrics(n, started, submitted, completed)

    def _check_composition(self, deadline: float) -> None:
        """Raise :class:`Unavailable` when the state backend does not release a
        composition's followers (the step that ends an invocation settles them, so once
        the first step is final the second may not be WAITING any more)."""
        if self._composes:
            return
        first, second = (self.inc.sig(0) | self.inc.sig()).run().steps
        first.get_result(timeout=remaining(deadline))
        record = self.app.state_backend.get(second.invocation_id)
        if record is not None and record.status is InvocationStatus.WAITING:
            kind = type(self.app.state_backend).__name__
            raise Unavailable(f"{kind} does not release a composition's followers yet")
        if second.get_result(timeout=remaining(deadline)) != 2:
            raise AssertionError("wrong result of a two-step chain")
        self._composes = True

    def ping(self, timeout: float) -> None:
        if self.echo(7).get_result(timeout=timeout) != 7:
            raise AssertionError("wrong result")


class EmbeddedPynenc(PynencSystem):
    """``Pynenc()`` defaults: memory broker, memory state, a ThreadRunner in a thread here."""

    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.app = tasks_embedded.app
        self.noop = tasks_embedded.noop
        self.echo = tasks_embedded.echo
        self.echo_direct = tasks_embedded.echo_direct
        self.total = tasks_embedded.total
        self.inc = tasks_embedded.inc
        self.app.conf.dev_mode_force_sync_tasks = False
        self.app.purge()
        self._thread = threading.Thread(target=self.app.runner.run, daemon=True)
        self._thread.start()
        wait_ready(lambda: self.ping(2.0), None, self.settings.start_timeout)

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self.app.runner.stop_runner_loop()
        thread.join(self.settings.stop_grace)
        self._thread = None


class SubprocessPynenc(PynencSystem):
    """A runner subprocess with ``runner.threads`` = 8; the caller is this process."""

    worker: WorkerProcess | None = None

    def start(self) -> None:
        transport = self.transport
        app_id = f"bench-{transport.name}-{uuid.uuid4().hex[:8]}"
        config = {
            "app_id": app_id,
            "broker_url": transport.broker_url,
            "state_backend_url": transport.state_url,
        }
        self.app = app = Pynenc(config_values=config)
        self._probe(app)
        self.noop = app.task(tasks_pynenc.noop.func)
        self.echo = app.task(tasks_pynenc.echo.func)
        self.echo_direct = app.direct_task(tasks_pynenc.echo_direct.__inner_function__)
        self.total = app.task(tasks_pynenc.total.func)
        self.inc = app.task(tasks_pynenc.inc.func)
        env = {
            "PYNENC__APP_ID": app_id,
            "PYNENC__BROKER_URL": transport.broker_url,
            "PYNENC__STATE_BACKEND_URL": transport.state_url,
            "PYNENC__RUNNER__THREADS": str(WORKER_THREADS),
        }
        worker = WorkerProcess(
            f"pynenc-runner-{transport.name}",
            python_argv("-c", RUNNER_CODE),
            env,
            transport.workdir,
        )
        self.worker = worker
        worker.start()
        wait_ready(lambda: self.ping(2.0), worker, self.settings.start_timeout)

    @staticmethod
    def _probe(app: Pynenc) -> None:
        """Build the state backend and connect the broker: a part that is not written yet
        fails here, and the reason is reported instead of a crash."""
        try:
            app.state_backend.find()
        except Exception as exc:
            raise Unavailable(
                f"state backend {app.conf.state_backend_url.split('://')[0]}:// — "
                f"{type(exc).__name__}: {exc}"
            ) from None
        try:
            conn = app.broker.connection()
            try:
                conn.connect()
            finally:
                conn.release()
        except Exception as exc:
            raise Unavailable(
                f"broker {app.conf.broker_url.split('://')[0]}:// — {type(exc).__name__}: {exc}"
            ) from None

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(self.settings.stop_grace)
            self.worker = None
        app = getattr(self, "app", None)
        if app is not None:
            if "broker" in vars(app):  # built: it holds connections
                app.broker.close()
            if "state_backend" in vars(app):
                app.state_backend.close()
