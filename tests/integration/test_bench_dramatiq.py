"""The bench's dramatiq system on real servers: its worker subprocess starts (readiness is one
round trip), every scenario gives the right results, ``reset`` drops results, and ``stop``
leaves no process behind. Sizes are tiny: this checks the wiring, never a time."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis

from bench.settings import quick_settings
from bench.sys_dramatiq import DramatiqSystem
from bench.system import Transport
from bench.tasks_dramatiq import RESULTS_NAMESPACE
from tests.servers import Server

pytestmark = pytest.mark.integration

BOUND = 120.0


def _transport(kind: str, redis_url: str, amqp_url: str | None, workdir: Path) -> Transport:
    broker_url = amqp_url if kind == "rabbitmq" else redis_url
    assert broker_url is not None
    return Transport(kind, broker_url, redis_url, redis_url, workdir)


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_every_scenario_runs_and_stop_ends_the_worker(
    kind: str, redis_server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    redis_url = redis_server.db_url()  # type: ignore[attr-defined]
    amqp_url = request.getfixturevalue("amqp_url") if kind == "rabbitmq" else None
    settings = quick_settings(n=20, roundtrips=3, chord_size=10, chain_length=5)
    system = DramatiqSystem(_transport(kind, redis_url, amqp_url, tmp_path), settings)
    lane = system.lane
    try:
        lane.call(system.start, BOUND)  # the start waits for one round trip
        worker = system.worker
        assert worker is not None and worker.process is not None
        pid = worker.process.pid
        for scenario, size in [
            ("throughput", 20),
            ("roundtrip", 3),
            ("parallel", 10),
            ("chord", 10),  # the body checks the sum of its members' results
            ("chain", 5),  # the last step's result is checked
        ]:
            lane.call(system.reset, BOUND)
            metrics = lane.call(
                lambda s=scenario, n=size: getattr(system, s)(n, _deadline()), BOUND
            )
            assert metrics, scenario
        client = redis.Redis.from_url(redis_url)
        try:
            assert client.keys(f"{RESULTS_NAMESPACE}:*")
            lane.call(system.reset, BOUND)
            assert client.keys(f"{RESULTS_NAMESPACE}:*") == []
        finally:
            client.close()
    finally:
        system.stop()
        lane.close()
    assert system.worker is None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the worker's whole process group is gone


def _deadline() -> float:
    return time.monotonic() + BOUND
