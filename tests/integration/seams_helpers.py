"""Deployments of ``tests.apps.seams`` for the tests of the Celery layer's seams: memory://
with an in-process ThreadRunner, or SQLite / Redis with a CLI runner in its own process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pynenc import Pynenc
from tests.apps import seams
from tests.integration.deployments import ROOT, Deployment, RunnerProcess
from tests.servers import Server

APP = "tests.apps.seams:app"
#: (state and broker, runner): a thread runner on each backend, a process runner on the
#: two that processes share
DEPLOYMENTS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "ProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]


def deployment(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url())


@contextmanager
def deployed(
    kind: str,
    runner_cls: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    *,
    slots: int = 4,
    runner_env: dict[str, str] | None = None,
) -> Iterator[tuple[Pynenc, Deployment | None, RunnerProcess | None]]:
    """``tests.apps.seams`` on ``kind`` with a runner consuming: in this process for
    memory://, else a CLI runner (``runner_env``: more of its environment)."""
    app = seams.app
    if kind == "memory":
        app.reset_components()
        app.conf.broker_url = "memory://"
        app.conf.state_backend_url = "memory://"
        app.conf.runner.threads = slots
        app.purge()
        try:
            with app.running_in_background(stop_timeout=60):
                yield app, None, None
        finally:
            app.reset_components()
        return
    dep = deployment(kind, tmp_path, request)
    dep.extra_env.update(runner_env or {})
    dep.configure(app)
    app.purge()
    args = ("--threads", str(slots), "--processes", str(slots))
    runner = RunnerProcess(dep, runner_cls, *args, log=tmp_path / "runner.log", app_ref=APP)
    runner.start()
    try:
        yield app, dep, runner
    finally:
        code = runner.stop()
        app.reset_components()
        assert code == 0, runner.log_tail()


def cli(dep: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    """``pynenc --app tests.apps.seams:app <args>`` on ``dep``."""
    return subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, *args],
        env=dep.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
