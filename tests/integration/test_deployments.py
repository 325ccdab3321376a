"""One behaviour suite, every runner, on SQLite (no server) and on Redis + RabbitMQ.

Each combination starts one runner through the CLI, in its own process, with a single
slot (so nested waits are exercised), and the test process calls tasks against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess
from tests.servers import Server

RUNNERS = ["ThreadRunner", "MultiThreadRunner", "ProcessRunner", "PersistentProcessRunner"]
DEPLOYMENTS = ["sqlite", "redis+rabbitmq"]
SINGLE_SLOT = ("--threads", "1", "--processes", "1")


def make_deployment(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Deployment:
    fast = {"heartbeat_interval": "0.2", "dead_after": "3"}
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db", fast)
    redis: Server = request.getfixturevalue("redis_server")
    rabbit: Server = request.getfixturevalue("rabbitmq_server")
    return Deployment(kind, rabbit.url, redis.db_url(), fast)


@pytest.fixture(
    scope="module",
    params=[(r, d) for d in DEPLOYMENTS for r in RUNNERS],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pynenc]:
    runner_cls, kind = request.param
    tmp = tmp_path_factory.mktemp(f"{kind}-{runner_cls}")
    deployment = make_deployment(kind, tmp, request)
    app = deployment.configure()
    app.purge()
    runner = RunnerProcess(deployment, runner_cls, *SINGLE_SLOT, log=tmp / "runner.log").start()
    try:
        assert deploy.add(1, 1).get_result(timeout=60) == 2, runner.log_tail()
        yield app
    finally:
        code = runner.stop()
        assert code == 0, runner.log_tail()
        app.reset_components()


def test_result_and_history(deployed: Pynenc) -> None:
    invocation = deploy.add(2, 3)
    assert invocation.get_result(timeout=30) == 5
    statuses = [e.status for e in invocation.history]
    assert statuses == [
        InvocationStatus.REGISTERED,
        InvocationStatus.RUNNING,
        InvocationStatus.SUCCESS,
    ]
    assert invocation.history[1].runner_id


def test_exception_reraised(deployed: Pynenc) -> None:
    with pytest.raises(ValueError, match="remote boom"):
        deploy.fail_with("remote boom").get_result(timeout=30)


def test_retries_across_processes(deployed: Pynenc, tmp_path: Path) -> None:
    invocation = deploy.flaky(str(tmp_path / "attempts"), succeed_on=3)
    assert invocation.get_result(timeout=30) == 3
    assert invocation.num_retries == 2


def test_retry_error(deployed: Pynenc, tmp_path: Path) -> None:
    assert deploy.retry_once(str(tmp_path / "marker")).get_result(timeout=30) == "retried"


def test_parallelize(deployed: Pynenc) -> None:
    group = deploy.add.parallelize([(i, 1) for i in range(40)])
    assert [r for r in group.results] == [i + 1 for i in range(40)]


def test_nested_waits_on_one_slot(deployed: Pynenc) -> None:
    assert deploy.fan_out(4).get_result(timeout=60) == sum(2 * i for i in range(4))
    assert deploy.chain(3).get_result(timeout=60) == 3


def test_direct_task(deployed: Pynenc) -> None:
    assert deploy.direct_mul(6, 7) == 42
