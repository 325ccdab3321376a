"""Signals to a whole runner process group (Ctrl-C, systemd's default KillMode).

The runner is started through the CLI in its own session, on real Redis; the signal goes to
every process of the group (runner, worker processes, forkserver, children) at once. One
signal is one graceful stop: running work finishes within ``runner.stop_grace``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
SETTINGS = {"heartbeat_interval": "0.2", "dead_after": "3", "stop_grace": "30"}
TASK_SECONDS = 3.0


@pytest.fixture
def deployment(redis_server: Server) -> Deployment:
    return Deployment(
        "redis",
        redis_server.db_url(),
        redis_server.db_url(),
        SETTINGS,
    )


def _running(app: Pynenc, invocation_id: str) -> bool:
    record = app.state_backend.get(invocation_id)
    return record is not None and record.status is S.RUNNING


def _start(deployment: Deployment, runner_cls: str, tmp_path: Path) -> RunnerProcess:
    return RunnerProcess(
        deployment, runner_cls, "--processes", "1", log=tmp_path / "runner.log"
    ).start()


def _exit_code(runner: RunnerProcess, timeout: float) -> int:
    assert runner.process is not None
    try:
        return runner.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        runner.kill()
        raise AssertionError(f"runner did not exit: {runner.log_tail()}") from None


@pytest.mark.parametrize(
    ("runner_cls", "sig"),
    [
        ("MultiThreadRunner", signal.SIGTERM),
        ("MultiThreadRunner", signal.SIGINT),
        ("PersistentProcessRunner", signal.SIGTERM),
        ("PersistentProcessRunner", signal.SIGINT),
        ("ProcessRunner", signal.SIGTERM),
        ("ProcessRunner", signal.SIGINT),
        ("ThreadRunner", signal.SIGINT),
    ],
)
def test_one_group_signal_is_one_graceful_stop(
    runner_cls: str, sig: signal.Signals, deployment: Deployment, tmp_path: Path
) -> None:
    app = deployment.configure()
    app.purge()
    runner = _start(deployment, runner_cls, tmp_path)
    try:
        invocation = deploy.sleep_then_add(41, TASK_SECONDS)
        wait_until(lambda: _running(app, invocation.invocation_id), 60, "the task to start")
        runner.signal(sig)  # the whole process group, as a terminal or systemd does
        assert invocation.get_result(timeout=60) == 42, runner.log_tail()
        assert _exit_code(runner, 60) == 0, runner.log_tail()
    finally:
        runner.stop()
        app.reset_components()
    statuses = [entry.status for entry in invocation.history]
    assert statuses == [S.REGISTERED, S.RUNNING, S.SUCCESS], runner.log_tail()


@pytest.mark.parametrize(
    "runner_cls", ["MultiThreadRunner", "PersistentProcessRunner", "ProcessRunner"]
)
def test_a_later_second_signal_still_stops_at_once(
    runner_cls: str, deployment: Deployment, tmp_path: Path
) -> None:
    app = deployment.configure()
    app.purge()
    runner = _start(deployment, runner_cls, tmp_path)
    try:
        invocation = deploy.sleep_then_add(1, 120)
        wait_until(lambda: _running(app, invocation.invocation_id), 60, "the task to start")
        runner.signal(signal.SIGTERM)  # graceful: the task could run for 30 s more
        wait_until(lambda: "stopping" in runner.log_tail(), 30, "the runner to log its stop")
        assert runner.process is not None
        runner.process.send_signal(signal.SIGTERM)  # the second, to the runner alone
        assert _exit_code(runner, 20) == 0, runner.log_tail()
    finally:
        runner.stop()
        app.reset_components()
    assert invocation.status is S.REROUTED, runner.log_tail()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_finish_and_exit_when_their_runner_is_killed(
    deployment: Deployment, tmp_path: Path
) -> None:
    app = deployment.configure()
    app.purge()
    runner = _start(deployment, "MultiThreadRunner", tmp_path)
    assert runner.process is not None
    try:
        invocation = deploy.sleep_then_add(1, TASK_SECONDS)
        wait_until(lambda: _running(app, invocation.invocation_id), 60, "the task to start")
        runner.process.kill()  # the parent alone, with no chance to stop its workers
        runner.process.wait(timeout=10)
        assert invocation.get_result(timeout=60) == 2, runner.log_tail()
        wait_until(lambda: not _group_alive(runner.process.pid), 30, "the workers to exit")
    finally:
        runner.signal(signal.SIGKILL)
        app.reset_components()
    assert "lost its parent runner; stopping" in runner.log_tail()
