"""Raw kombu under measurement: the transport's own ceiling for the same three scenarios.

throughput: one-way messages, done when the consumer has acked the last one (it replies
once); roundtrip: request/reply; parallel: ``n`` requests published at once, done when all
``n`` replies are in — the least messaging a task system with results can do.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

from bench.kombu_peer import KombuClient, serve
from bench.measure import Metrics, latency_metrics, rate_metrics
from bench.procs import WorkerProcess, python_argv, wait_ready
from bench.system import System


class KombuSystem(System):
    """One publisher (this process) and one consumer (a subprocess, or a thread on memory)."""

    name = "kombu"
    #: a transport has no composition: the canvas scenarios are not measured for it
    scenarios = ("throughput", "roundtrip", "parallel")
    client: KombuClient | None = None
    worker: WorkerProcess | None = None

    def start(self) -> None:
        transport = self.transport
        url = transport.broker_url
        queue = f"bench.kombu.{transport.name}.{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if url.startswith("memory://"):
            self._thread = threading.Thread(
                target=serve, args=(url, queue, self._stop), daemon=True
            )
            self._thread.start()
        else:
            argv = python_argv("-m", "bench.kombu_peer", url, queue)
            self.worker = WorkerProcess(
                f"kombu-consumer-{transport.name}", argv, {}, transport.workdir
            )
            self.worker.start()
        # start() runs on the lane's thread, like the measurements: the client (kombu
        # connections are not thread-safe) is made and used by that thread only
        self.client = KombuClient(url, queue)
        wait_ready(self._ping, self.worker, self.settings.start_timeout)

    def _ping(self) -> None:
        self.roundtrip(1, time.monotonic() + 2.0)

    def stop(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            # a broken connection has nothing left to release
            with contextlib.suppress(Exception):
                self.lane.call(client.close, 10.0)
        if self.worker is not None:
            self.worker.stop(self.settings.stop_grace)
            self.worker = None
        if getattr(self, "_thread", None) is not None:
            self._stop.set()
            assert self._thread is not None
            self._thread.join(self.settings.stop_grace)
            self._thread = None

    def reset(self) -> None:
        if self.client is not None:
            self.client.clear()

    def throughput(self, n: int, deadline: float) -> Metrics:
        client = self._client()
        batch = uuid.uuid4().hex[:8]
        started = time.perf_counter()
        for i in range(n):
            client.publish({"id": i, "batch": batch, "total": n})
        enqueued = time.perf_counter()
        client.wait(1, deadline)
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def roundtrip(self, n: int, deadline: float) -> Metrics:
        client = self._client()
        latencies = []
        for i in range(n):
            start = time.perf_counter()
            client.publish({"id": i})
            client.wait(i + 1, deadline)
            latencies.append(time.perf_counter() - start)
        return latency_metrics(latencies)

    def parallel(self, n: int, deadline: float) -> Metrics:
        client = self._client()
        started = time.perf_counter()
        for i in range(n):
            client.publish({"id": i})
        enqueued = time.perf_counter()
        client.wait(n, deadline)
        return rate_metrics(n, started, enqueued, time.perf_counter())

    def _client(self) -> KombuClient:
        assert self.client is not None, "start() first"
        self.client.clear()
        return self.client
