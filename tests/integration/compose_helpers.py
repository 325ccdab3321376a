"""Deployments of ``tests.apps.canvas`` for the composition tests: memory:// with a
ThreadRunner in this process, or SQLite / Redis with a CLI runner (thread or process) in
its own process; and helpers to look at what a composition left in the state backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import ChainRun, GroupRun, InvocationStatus, Pynenc, ThreadRunner
from pynenc.compose import Handle
from pynenc.records import InvocationRecord
from pynenc.runner import BackgroundRunner
from tests.apps import canvas
from tests.integration.deployments import Deployment, RunnerProcess
from tests.servers import Server

S = InvocationStatus
APP = "tests.apps.canvas:app"
#: heartbeats and recovery fast enough for the fault tests (a dead runner is found in
#: seconds), redelivery of a lost message after a few
FAST = {"heartbeat_interval": "0.2", "dead_after": "3", "redeliver_after": "5"}
#: (state and broker, runner): a thread runner on each backend, a process runner on the
#: two that processes share
SETUPS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "ProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]
TIMEOUT = 90.0


def deployment(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Deployment:
    """A deployment on ``kind`` ("sqlite" or "redis": a fresh database)."""
    if kind == "sqlite":
        return Deployment(
            kind, f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db", dict(FAST)
        )
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url(), dict(FAST))


class RunnerSetup:
    """An app with a runner consuming it, in this process or a CLI runner process: how
    both stop and show their log (subclasses start them)."""

    app: Pynenc
    _local: BackgroundRunner | None
    _process: RunnerProcess | None

    def stop(self) -> None:
        try:
            if self._local is not None:
                self._local.__exit__(None, None, None)
            if self._process is not None:
                assert self._process.stop() == 0, self._process.log_tail()
        finally:
            self._local = self._process = None
            self.app.reset_components()

    def log_tail(self) -> str:
        return self._process.log_tail() if self._process is not None else ""


class Setup(RunnerSetup):
    """``tests.apps.canvas`` with a runner consuming: in this process (memory) or a CLI
    runner process (SQLite, Redis)."""

    def __init__(
        self,
        kind: str,
        runner_cls: str,
        tmp: Path,
        dep: Deployment | None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.kind, self.runner_cls, self.tmp, self.deployment = kind, runner_cls, tmp, dep
        #: runner settings of the in-process runner (memory), as the CLI's environment
        self.settings = {
            "scheduler_poll": 0.2,
            **{k: float(v) for k, v in (settings or {}).items()},
        }
        self.app = canvas.app
        self._local: BackgroundRunner | None = None
        self._process: RunnerProcess | None = None

    def start(self, slots: int = 4) -> Setup:
        app = self.app
        app.conf.dev_mode_force_sync_tasks = False
        if self.deployment is None:
            app.reset_components()
            app.conf.broker_url = app.conf.state_backend_url = "memory://"
            app.conf.runner.update(
                threads=slots, heartbeat_interval=0.2, dead_after=3.0, **self.settings
            )
            app.purge()
            self._local = BackgroundRunner(ThreadRunner(app, threads=slots), 60, 60)
            self._local.__enter__()
            return self
        self.deployment.configure(app)
        app.purge()
        args = ("--threads", str(slots), "--processes", str(slots))
        log = self.tmp / "runner.log"
        self._process = RunnerProcess(self.deployment, self.runner_cls, *args, log=log, app_ref=APP)
        self._process.start()
        return self


def setup_id(param: tuple[str, str]) -> str:
    return f"{param[0]}-{param[1]}"


def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    """For a module-scoped fixture parametrised over :data:`SETUPS`: one runner per
    deployment for the whole module."""
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"canvas-{kind}-{runner_cls}")
    dep = None if kind == "memory" else deployment(kind, tmp, request)
    current = Setup(kind, runner_cls, tmp, dep).start()
    try:
        yield current
    finally:
        current.stop()


def result_of(handle: Handle, timeout: float = TIMEOUT) -> Any:
    """What ``handle.result`` gives, each wait bounded by ``timeout``."""
    if isinstance(handle, ChainRun):
        return result_of(handle.last, timeout)
    if isinstance(handle, GroupRun):
        return [result_of(member, timeout) for member in handle.members]
    return handle.get_result(timeout=timeout)


def final_records(app: Pynenc, handle: Handle, timeout: float = TIMEOUT) -> list[InvocationRecord]:
    """The records of every invocation of ``handle``, once each is final."""
    ids = [inv.invocation_id for inv in _flat(handle)]
    return app.orchestrator.wait_final_many(ids, timeout)


def _flat(handle: Handle) -> list[Any]:
    if isinstance(handle, ChainRun | GroupRun):
        return handle.invocations
    return [handle]


def statuses(app: Pynenc, handle: Handle) -> list[InvocationStatus]:
    """The final status of every invocation of ``handle``, in order."""
    return [record.status for record in final_records(app, handle)]


def calls_with(app: Pynenc, task: Any, marker: str) -> list[InvocationRecord]:
    """The records of ``task``'s invocations whose arguments mention ``marker`` (a test's
    counter file): error callbacks, whose ids a composition does not hand back."""
    ids = app.state_backend.find(task_id=task.task_id.key)
    records = app.state_backend.get_many(ids)
    return [r for r in records if r is not None and marker in "".join(r.arguments.values())]


def history(app: Pynenc, invocation_id: str) -> list[InvocationStatus]:
    """The statuses an invocation went through."""
    return [entry.status for entry in app.state_backend.history(invocation_id)]
