"""``pynenc runners`` and ``pynenc invocations`` against real CLI runners (SQLite, Redis)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pynenc import InvocationStatus
from tests.apps import deploy
from tests.integration.deployments import ROOT, Deployment, RunnerProcess, wait_until
from tests.servers import Server

APP = "tests.apps.deploy:app"


def _deployment(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url())


def _cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, *args],
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _column(out: str, index: int) -> list[str]:
    """The ``index``-th column of a printed table, header skipped."""
    return [line.split()[index] for line in out.splitlines()[1:]]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_runners_and_invocations_of_a_live_deployment(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment(kind, tmp_path, request)
    app = deployment.configure()
    app.purge()
    runner = RunnerProcess(
        deployment, "ThreadRunner", "--threads", "3", log=tmp_path / "runner.log"
    ).start()
    try:
        wait_until(lambda: app.state_backend.runners(), 60, "the runner's first heartbeat")
        listed = _cli(deployment, "runners")
        assert listed.returncode == 0, listed.stderr
        header, row = listed.stdout.splitlines()
        assert header.split() == [
            "RUNNER", "KIND", "HOST", "PID", "QUEUES", "SLOTS", "HEARTBEAT", "STATE"
        ]  # fmt: skip
        runner_id, kind_, _, pid, queues, slots, *_, state = row.split()
        assert runner_id in app.state_backend.runners()
        assert runner.process is not None
        assert (kind_, pid, slots, state) == ("ThreadRunner", str(runner.process.pid), "3", "alive")
        assert "default" in queues.split(",")

        ok = deploy.add(1, 2)
        assert ok.result == 3
        failed = deploy.fail_with("boom")
        app.orchestrator.wait_final(failed.invocation_id, 60)
        newest = deploy.add(5, 5)
        assert newest.result == 10
    finally:
        assert runner.stop() == 0, runner.log_tail()

    everything = _cli(deployment, "invocations")
    assert everything.returncode == 0, everything.stderr
    assert _column(everything.stdout, 0) == [
        newest.invocation_id,
        failed.invocation_id,
        ok.invocation_id,
    ]
    assert _column(everything.stdout, 2) == ["SUCCESS", "FAILED", "SUCCESS"]
    only_failed = _cli(deployment, "invocations", "--status", "failed")
    assert _column(only_failed.stdout, 0) == [failed.invocation_id]
    by_task = _cli(deployment, "invocations", "--task", "tests.apps.deploy.add", "--limit", "1")
    assert _column(by_task.stdout, 0) == [newest.invocation_id]
    assert "--limit shows more" in by_task.stderr
    assert _cli(deployment, "invocations", "--queue", "nope").stdout.startswith("No invocations")

    assert _cli(deployment, "status", failed.invocation_id).returncode == 1
    assert _cli(deployment, "status", ok.invocation_id).returncode == 0
    gone = _cli(deployment, "runners")  # a stopped runner forgets its heartbeat and info
    assert gone.stdout.startswith("No runners"), gone.stdout
    assert app.state_backend.runner_infos() == {}
    assert app.state_backend.find(statuses=[InvocationStatus.RUNNING]) == []
    app.reset_components()
