"""Helpers of the time-limit and cancellation tests: deployments of ``tests.apps.deadlines``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pynenc import Pynenc
from pynenc.runner.base import BaseRunner
from tests.apps import deadlines
from tests.integration.deployments import Deployment, RunnerProcess
from tests.servers import Server

APP = "tests.apps.deadlines:app"
#: one slot: a runner that keeps serving after giving up on a task proves its slot is free
ONE_SLOT = ("--threads", "1", "--processes", "1")
#: how late a waiter may see a limit or a cancellation on a loaded 2-core machine (the
#: figures measured are far lower; see docs/limits-and-cancellation.md)
MARGIN = 10.0


def deployment(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    """A SQLite or Redis deployment (a fresh Redis database each time)."""
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url())


def runner(dep: Deployment, runner_cls: str, tmp_path: Path) -> RunnerProcess:
    return RunnerProcess(dep, runner_cls, *ONE_SLOT, log=tmp_path / "runner.log", app_ref=APP)


def memory_app(threads: int = 1) -> Pynenc:
    """``tests.apps.deadlines`` on memory:// (purged), ``threads`` slots."""
    app = deadlines.app
    app.reset_components()
    app.conf.broker_url = "memory://"
    app.conf.state_backend_url = "memory://"
    app.conf.runner.threads = threads
    app.purge()
    return app


@contextmanager
def memory_runner(threads: int = 1) -> Iterator[tuple[Pynenc, BaseRunner]]:
    """:func:`memory_app` with its ThreadRunner in a background thread."""
    app = memory_app(threads)
    with app.running_in_background(stop_timeout=60) as running:
        yield app, running
    app.reset_components()


def workdir(tmp_path: Path, name: str = "work") -> str:
    path = tmp_path / name
    path.mkdir()
    return str(path)


def release(directory: str) -> None:
    (Path(directory) / "release").touch()


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (killed, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone (between the open and the read)
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
