"""The two flavours of the side-by-side suite, each with a running worker.

``flavour`` is parametrised over ``celery`` (``tasks_celery`` on a real Celery 5.7 test
worker, threads pool) and ``compat`` (``tasks_compat`` on a pynenc runner in this process);
both on a Redis broker and a Redis result backend, each flavour on a database of its own.
It is package-scoped: one worker per flavour for the whole suite.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from celery import _state
from celery.contrib.testing.worker import start_worker

from tests.celery_compat.sidebyside import tasks_celery, tasks_compat
from tests.integration.deployments import wait_until
from tests.servers import Server

FLAVOURS = ["celery", "compat"]
#: how long a test waits for anything a worker does (generous: a loaded 2-core machine)
WAIT = 30.0


@dataclass
class Flavour:
    """One side of the suite: its tasks module (``tasks``) and its Celery app."""

    name: str
    tasks: ModuleType
    broker_url: str

    @property
    def app(self) -> Any:
        return self.tasks.app

    def AsyncResult(self, task_id: str) -> Any:
        return self.app.AsyncResult(task_id)


def configure(tasks: ModuleType, url: str) -> None:
    """Point the flavour's app at ``url`` (broker and result backend), before any use."""
    tasks.app.conf.update(broker_url=url, result_backend=url, task_default_queue="celery")


@contextmanager
def process_state_restored() -> Iterator[None]:
    """Put back what a Celery worker changes for the whole process: the current and
    default apps (it makes its app both) and the root logger (its logging setup)."""
    current, default = _state.get_current_app(), _state.default_app
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        _state.set_default_app(default)
        current.set_current()
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture(scope="package", params=FLAVOURS)
def flavour(request: pytest.FixtureRequest, redis_server: Server) -> Iterator[Flavour]:
    with process_state_restored():
        yield from _started(request.param, redis_server.db_url())


def _started(name: str, url: str) -> Iterator[Flavour]:
    if name == "celery":
        configure(tasks_celery, url)
        tasks_celery.app.conf.worker_hijack_root_logger = False  # leave pytest's log capture
        with start_worker(
            tasks_celery.app,
            pool="threads",
            concurrency=4,
            perform_ping_check=False,
            shutdown_timeout=WAIT,
        ):
            yield Flavour("celery", tasks_celery, url)
        gc.collect()  # Celery's results unsubscribe as they go: while Redis still runs
    else:
        configure(tasks_compat, url)
        with tasks_compat.app.pynenc.running_in_background(stop_timeout=WAIT):
            yield Flavour("compat", tasks_compat, url)


@pytest.fixture
def tasks(flavour: Flavour) -> Iterator[ModuleType]:
    """The flavour's tasks module, its app current (as a worker makes it)."""
    previous = _state.get_current_app()
    flavour.app.set_current()
    yield flavour.tasks
    previous.set_current()


class Gate:
    """A folder a task holds on (see ``tasks_celery.hold``)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = str(folder)

    def wait_started(self) -> int:
        """Wait until the held task runs; the pid of its process."""
        started = self.folder / "started"
        wait_until(started.exists, WAIT, f"a task to start at gate {self.path}")
        return int(started.read_text())

    def release(self) -> None:
        (self.folder / "release").write_text("go")


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    opened = Gate(tmp_path / "gate")
    yield opened
    opened.release()  # never leave a worker slot held by a failed test


def wait_for_state(result: Any, state: str) -> None:
    """Poll ``result.state`` (the worker is in another thread or process) until ``state``."""
    wait_until(lambda: result.state == state, WAIT, f"{result!r} to reach {state}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Celery's Redis result backend calls a redis-py method redis-py deprecates: not ours."""
    here = str(Path(__file__).parent)
    ignore = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(ignore)
