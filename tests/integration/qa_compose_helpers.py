"""Deployments of ``tests.apps.qa_compose`` for the hostile-user composition tests
(``test_qa_compose_*.py``): memory with a ThreadRunner in this process, or SQLite / Redis
with a CLI runner (thread, process or persistent process pool) in its own process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import Pynenc, ThreadRunner
from pynenc.runner import BackgroundRunner
from tests.apps import qa_compose
from tests.integration.compose_helpers import RunnerSetup, deployment
from tests.integration.deployments import Deployment, RunnerProcess

APP = "tests.apps.qa_compose:app"
#: (state and broker, runner): a thread runner on each backend, the process runners on
#: the two that processes share
SETUPS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "PersistentProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]


class QaSetup(RunnerSetup):
    """``tests.apps.qa_compose`` with a runner consuming it."""

    def __init__(
        self, kind: str, runner_cls: str, tmp: Path, dep: Deployment | None, slots: int = 4
    ) -> None:
        self.kind, self.runner_cls, self.tmp, self.deployment = kind, runner_cls, tmp, dep
        self.slots = slots
        self.app: Pynenc = qa_compose.app
        self._local: BackgroundRunner | None = None
        self._process: RunnerProcess | None = None

    def configure(self) -> Pynenc:
        """Point this process's app at the deployment (no runner)."""
        app = self.app
        app.conf.dev_mode_force_sync_tasks = False
        if self.deployment is None:
            app.reset_components()
            app.conf.broker_url = app.conf.state_backend_url = "memory://"
            app.conf.runner.update(
                threads=self.slots,
                heartbeat_interval=0.2,
                dead_after=3.0,
                scheduler_poll=0.2,
                redeliver_after=5.0,
            )
        else:
            self.deployment.configure(app)
        return app

    def start(self) -> QaSetup:
        app = self.configure()
        app.purge()
        if self.deployment is None:
            self._local = BackgroundRunner(ThreadRunner(app, threads=self.slots), 60, 60)
            self._local.__enter__()
            return self
        args = ("--threads", str(self.slots), "--processes", str(self.slots))
        log = self.tmp / f"runner-{uuid.uuid4().hex[:6]}.log"
        self._process = RunnerProcess(self.deployment, self.runner_cls, *args, log=log, app_ref=APP)
        self._process.start()
        return self


def qa_setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, slots: int = 4
) -> Iterator[QaSetup]:
    """For a fixture parametrised over :data:`SETUPS`: a started runner."""
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"qa-compose-{kind}-{runner_cls}")
    dep = None if kind == "memory" else deployment(kind, tmp, request)
    current = QaSetup(kind, runner_cls, tmp, dep, slots).start()
    try:
        yield current
    finally:
        current.stop()


def setup_id(param: tuple[str, str]) -> str:
    return f"{param[0]}-{param[1]}"
