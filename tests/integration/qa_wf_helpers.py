"""Deployments of ``tests.apps.qa_wf`` for the hostile-user workflow tests
(``test_qa_workflows_*.py``): memory with a ThreadRunner in this process, or SQLite /
Redis with a CLI runner (thread or process) in its own process."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc, ThreadRunner
from pynenc.records import InvocationRecord
from pynenc.runner import BackgroundRunner
from tests.apps import qa_wf
from tests.integration.compose_helpers import RunnerSetup, deployment
from tests.integration.deployments import Deployment, RunnerProcess

S = InvocationStatus
APP = "tests.apps.qa_wf:app"
TIMEOUT = 60.0
#: (state and broker, runner): a thread runner on each backend, the process runners on
#: the two that processes share
SETUPS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "PersistentProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]


class WfSetup(RunnerSetup):
    """``tests.apps.qa_wf`` with a runner consuming it."""

    def __init__(self, kind: str, runner_cls: str, tmp: Path, dep: Deployment | None) -> None:
        self.kind, self.runner_cls, self.tmp, self.deployment = kind, runner_cls, tmp, dep
        self.app: Pynenc = qa_wf.app
        self._local: BackgroundRunner | None = None
        self._process: RunnerProcess | None = None

    def configure(self) -> Pynenc:
        app = self.app
        app.conf.dev_mode_force_sync_tasks = False
        if self.deployment is None:
            app.reset_components()
            app.conf.broker_url = app.conf.state_backend_url = "memory://"
            app.conf.runner.update(
                threads=4, heartbeat_interval=0.2, dead_after=3.0, scheduler_poll=0.2
            )
        else:
            self.deployment.configure(app)
        return app

    def start(self) -> WfSetup:
        app = self.configure()
        app.purge()
        if self.deployment is None:
            self._local = BackgroundRunner(ThreadRunner(app, threads=4), 60, 60)
            self._local.__enter__()
            return self
        log = self.tmp / f"runner-{uuid.uuid4().hex[:6]}.log"
        args = ("--threads", "4", "--processes", "4")
        self._process = RunnerProcess(self.deployment, self.runner_cls, *args, log=log, app_ref=APP)
        self._process.start()
        return self

    def record(self, invocation_id: str) -> InvocationRecord | None:
        return self.app.state_backend.get(invocation_id)

    def wait_status(
        self, invocation_id: str, *statuses: InvocationStatus, timeout: float = TIMEOUT
    ) -> InvocationRecord:
        """Wait until the invocation is in one of ``statuses`` (it lives in another process:
        polled)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.record(invocation_id)
            if record is not None and record.status in statuses:
                return record
            if time.monotonic() > deadline:
                history = self.app.state_backend.history(invocation_id) if record else None
                raise AssertionError(
                    f"{invocation_id} not {[s.name for s in statuses]} after {timeout} s: "
                    f"{record and record.status.name}, history {history}\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def result(self, invocation: Any, timeout: float = TIMEOUT) -> Any:
        return invocation.get_result(timeout=timeout)


def wf_setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WfSetup]:
    """For a module-scoped fixture parametrised over :data:`SETUPS`: a started runner."""
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"qa-wf-{kind}-{runner_cls}")
    dep = None if kind == "memory" else deployment(kind, tmp, request)
    current = WfSetup(kind, runner_cls, tmp, dep).start()
    try:
        yield current
    finally:
        current.stop()


def setup_id(param: tuple[str, str]) -> str:
    return f"{param[0]}-{param[1]}"
