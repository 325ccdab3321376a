"""Faults with real processes and real servers: nothing is lost, the runner keeps going."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from tests.apps import deploy
from tests.integration.deployments import ROOT, Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
FAST = {
    "heartbeat_interval": "0.2",
    "dead_after": "2",
    "stop_grace": "5",
    "redeliver_after": "3",
}
N = 200


def _succeeded(app: Pynenc) -> int:
    return len(
        app.state_backend.find(task_id="tests.apps.deploy.sleep_then_add", statuses=[S.SUCCESS])
    )


def _deployment(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db", FAST)
    redis: Server = request.getfixturevalue("redis_server")
    if kind == "redis-fast":  # kombu ack emulation off: pynenc's redelivery covers losses
        return Deployment(
            kind,
            redis.db_url(),
            redis.db_url(),
            FAST,
            broker_transport_options='{"ack_emulation": false}',
        )
    rabbit: Server = request.getfixturevalue("rabbitmq_server")
    return Deployment(kind, rabbit.url, redis.db_url(), FAST)


@pytest.mark.parametrize("kind", ["sqlite", "redis+rabbitmq", "redis-fast"])
def test_kill_9_runner_mid_run_loses_nothing(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment(kind, tmp_path, request)
    app = deployment.configure()
    app.purge()
    first = RunnerProcess(
        deployment, "ThreadRunner", "--threads", "4", log=tmp_path / "first.log"
    ).start()
    invocations = deploy.sleep_then_add.parallelize([(i, 0.01) for i in range(N)])
    try:
        wait_until(lambda: _succeeded(app) >= N // 5, 60, "a fifth of the run")
    finally:
        first.kill()  # kill -9, mid-run: claimed, running and prefetched work in flight
    done_at_kill = _succeeded(app)
    assert done_at_kill < N, "the run finished before the kill; nothing was tested"
    second = RunnerProcess(
        deployment, "ThreadRunner", "--threads", "4", log=tmp_path / "second.log"
    ).start()
    try:
        results = [inv.get_result(timeout=120) for inv in invocations.invocations]
    finally:
        assert second.stop() == 0, second.log_tail()
    assert results == [i + 1 for i in range(N)]
    assert _succeeded(app) == N
    assert app.state_backend.find(statuses=[S.RUNNING, S.REGISTERED, S.REROUTED]) == []
    app.reset_components()


@pytest.mark.parametrize("which", ["redis", "rabbitmq"])
def test_server_restart_mid_run_completes(
    which: str,
    tmp_path: Path,
    redis_factory: Callable[..., Server],
    rabbitmq_factory: Callable[..., Server],
    redis_server: Server,
) -> None:
    if which == "redis":  # Redis is both broker and state: it must keep its data
        server = redis_factory(persistent=True)
        deployment = Deployment("redis", server.url, server.db_url(), FAST)
    else:
        server = rabbitmq_factory()
        deployment = Deployment("rabbitmq", server.url, redis_server.db_url(), FAST)
    app = deployment.configure()
    app.purge()
    runner = RunnerProcess(
        deployment, "ThreadRunner", "--threads", "4", log=tmp_path / "runner.log"
    ).start()
    try:
        invocations = deploy.sleep_then_add.parallelize([(i, 0.02) for i in range(100)])
        wait_until(lambda: _succeeded(app) >= 10, 60, "the run to get going")
        server.restart()
        results = [inv.get_result(timeout=180) for inv in invocations.invocations]
        assert results == [i + 1 for i in range(100)]
        # and the runner still takes new work after the restart
        assert deploy.add(20, 22).get_result(timeout=60) == 42
    finally:
        code = runner.stop()
        app.reset_components()
    assert code == 0, runner.log_tail()


def test_foreign_message_is_dead_lettered_and_runner_keeps_working(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment("redis+rabbitmq", tmp_path, request)
    app = deployment.configure()
    app.purge()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add(1, 1).get_result(timeout=60) == 2
        broker = app.broker
        with broker.connection() as conn:
            conn.Producer().publish(
                {"task": "celery.thing", "args": [1]},
                exchange="",
                routing_key=broker.queue_name("default"),
                serializer="json",
            )
        assert deploy.add(2, 2).get_result(timeout=60) == 4
        wait_until(lambda: broker.dead_letters("default") == 1, 30, "the dead letter")
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()


def test_task_module_missing_on_the_runner(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller can import the task's module, the runner cannot: the runner refuses to
    start (the module is declared), and the call waits for a runner that can."""
    caller_only = tmp_path / "caller_only"
    caller_only.mkdir()
    (caller_only / "only_here.py").write_text(
        textwrap.dedent("""
        from tests.apps.deploy import app

        @app.task
        def hidden(x: int) -> int:
            return x
    """)
    )
    monkeypatch.syspath_prepend(str(caller_only))
    import only_here  # type: ignore[import-not-found]

    deployment = _deployment("sqlite", tmp_path, request)
    # declared (see tests/integration/test_task_modules.py for an undeclared module)
    deployment.extra_env["PYNENC__TASK_MODULES"] = "only_here"
    app = deployment.configure()
    invocation = only_here.hidden(1)
    # a runner that cannot import a declared module refuses to start, naming it ...
    refused = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "refused.log").start()
    assert refused.process is not None
    assert refused.process.wait(timeout=120) != 0
    log = (tmp_path / "refused.log").read_text()
    assert "task_modules names module 'only_here', which cannot be imported" in log
    # ... and the call is not lost: a runner that can import the module runs it
    assert invocation.status is S.REGISTERED
    deployment.extra_env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{caller_only}"
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert invocation.get_result(timeout=60) == 1
        assert deploy.add(3, 4).get_result(timeout=60) == 7
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.tasks.pop("only_here.hidden", None)
        sys.modules.pop("only_here", None)
        app.reset_components()
