"""What recovery costs the state backend: rerouting the RUNNING work of a dead runner.

``python -m bench.recovery_reads [-n 1000] [--rounds 3]`` starts a Redis server (the class
of ``tests/servers.py``, a free loopback port), registers ``n`` invocations, claims them
for a runner whose last heartbeat is long past, and times one ``Orchestrator.recover`` pass
by another runner. It prints, per round, the round trips to Redis (what the client sends:
one per command, one per pipeline or script call), the commands Redis executed (``INFO
commandstats``), and the wall time. The broker is ``memory://``: the republishing is not
counted. A SQLite file is measured the same way (time only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis.connection

from bench.procs import running_server
from bench.transports import redis_commands
from pynenc import Pynenc
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate

S = InvocationStatus
DEAD = "ThreadRunner:dead-host:1:dead"
#: memory:// broker; one warning per rerouted invocation is not what is measured
QUIET = {"broker_url": "memory://", "logging_level": "error"}


class _RoundTrips:
    """Counts what redis-py sends (``send_packed_command``: a command or a whole pipeline)."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def counting(self) -> Iterator[None]:
        original = redis.connection.AbstractConnection.send_packed_command

        def send(connection: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(connection, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        try:
            yield
        finally:
            redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def _prepare(app: Pynenc, n: int) -> None:
    """``n`` invocations RUNNING under ``DEAD``, whose heartbeat is an hour old."""
    backend = app.state_backend
    backend.purge()
    records = [InvocationRecord(uuid.uuid4().hex, "bench.task", {"x": str(i)}) for i in range(n)]
    backend.register(records, time.time())
    now = time.time()
    claims = [
        StatusUpdate(
            r.invocation_id,
            frozenset({S.REGISTERED}),
            StatusEntry(S.RUNNING, now, DEAD),
            owner=DEAD,
        )
        for r in records
    ]
    for start in range(0, n, 1000):
        assert all(backend.set_status_many(claims[start : start + 1000]))
    backend.heartbeat(DEAD, now - 3600)


def _recover(app: Pynenc) -> float:
    start = time.perf_counter()
    dead = app.orchestrator.recover("bench-recovery", time.time(), 60.0, 3)
    elapsed = time.perf_counter() - start
    assert dead == [DEAD], dead
    assert not app.state_backend.find(statuses=[S.RUNNING])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="RUNNING invocations to recover")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    n = options.n
    with running_server("redis") as url:
        app = Pynenc({**QUIET, "state_backend_url": url}, app_id="bench-rec")
        trips = _RoundTrips()
        for round_ in range(options.rounds):
            _prepare(app, n)
            commands = redis_commands(url)
            with trips.counting():
                trips.count = 0
                elapsed = _recover(app)
            executed = redis_commands(url) - commands - 1  # less the INFO itself
            print(
                f"redis  round {round_ + 1}: {n} invocations recovered in {elapsed * 1000:.0f} ms,"
                f" {trips.count} round trips, {executed} commands"
            )
        app.state_backend.close()
    with tempfile.TemporaryDirectory() as tmp:
        app = Pynenc(
            {**QUIET, "state_backend_url": f"sqlite:///{tmp}/state.db"}, app_id="bench-rec"
        )
        for round_ in range(options.rounds):
            _prepare(app, n)
            elapsed = _recover(app)
            print(
                f"sqlite round {round_ + 1}: {n} invocations recovered in {elapsed * 1000:.0f} ms"
            )


if __name__ == "__main__":
    main()
