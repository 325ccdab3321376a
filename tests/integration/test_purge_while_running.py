"""A purge while runners run: their heartbeats go with it, and work they claim before they
beat again must not be taken for a dead runner's and run a second time."""

from __future__ import annotations

from pathlib import Path

from pynenc import InvocationStatus
from tests.apps import scheduling as tasks
from tests.integration.deployments import Deployment, RunnerProcess

S = InvocationStatus
APP = "tests.apps.scheduling:app"


def test_work_claimed_right_after_a_purge_runs_once(tmp_path: Path) -> None:
    urls = (f"sqlite:///{tmp_path}/broker.db", f"sqlite:///{tmp_path}/state.db")
    deployment = Deployment("sqlite", *urls, {"heartbeat_interval": "0.2", "dead_after": "3"})
    app = deployment.configure(tasks.app)
    # the pool's worker heartbeats as a runner of its own; the parent holds the lease
    runner = RunnerProcess(
        deployment, "PersistentProcessRunner", "--processes", "1", log=tmp_path / "log", app_ref=APP
    ).start()
    try:
        assert tasks.started_at("ready").get_result(timeout=60) > 0, runner.log_tail()
        for _ in range(3):
            app.purge()  # every heartbeat gone; the runners are alive
            invocation = tasks.block(1.0)  # recovery passes run while it runs
            assert invocation.get_result(timeout=60) == 1.0
            statuses = [e.status for e in invocation.history]
            assert statuses == [S.REGISTERED, S.RUNNING, S.SUCCESS], runner.log_tail()
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()
