"""Fixtures of the canvas QA tests (``test_qa_canvas_*.py``): the document pipeline of
``qa_canvas_celery`` on a real Celery 5.7 test worker (threads pool) and, side by side,
the same text (``qa_canvas_compat``) on pynenc runners: a ThreadRunner in this process
(``compat``) and a ProcessRunner started through the CLI (``compat-process``). Each on
a fresh database of the test Redis (broker and results).

Import the fixtures into a test module (``from tests.celery_compat.qa_canvas_side import
flavour, gate, notes, tasks  # noqa: F401``); ``flavour`` is module-scoped: one worker per
flavour for each test module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from celery import _state
from celery.contrib.testing.worker import start_worker

from tests.celery_compat import qa_canvas_celery, qa_canvas_compat
from tests.celery_compat.sidebyside.conftest import (
    let_go_of_waiting_results,
    process_state_restored,
)
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

#: how long a test waits for anything a worker does (a loaded 2-core machine)
WAIT = 60.0
FLAVOURS = ["celery", "compat", "compat-process"]
QUEUE = "celery"


def _configure(tasks: ModuleType, url: str) -> None:
    tasks.app.conf.update(broker_url=url, result_backend=url, task_default_queue=QUEUE)


@pytest.fixture(scope="module", params=FLAVOURS)
def flavour(
    request: pytest.FixtureRequest, redis_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """The project module of one flavour, with its worker running."""
    url = redis_server.db_url()
    with process_state_restored():
        if request.param == "celery":
            yield from _celery_worker(url)
        elif request.param == "compat":
            _configure(qa_canvas_compat, url)
            with qa_canvas_compat.app.pynenc.running_in_background(stop_timeout=WAIT):
                yield qa_canvas_compat
        else:
            log = tmp_path_factory.mktemp("qa-canvas-runner") / "runner.log"
            yield from _runner_process(url, log)


def _celery_worker(url: str) -> Iterator[ModuleType]:
    tasks = qa_canvas_celery
    _configure(tasks, url)
    tasks.app.conf.worker_hijack_root_logger = False
    with start_worker(
        tasks.app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=WAIT
    ):
        yield tasks
    let_go_of_waiting_results(tasks.app)


def _runner_process(url: str, log: Path) -> Iterator[ModuleType]:
    tasks = qa_canvas_compat
    _configure(tasks, url)
    tasks.app.pynenc.reset_components()  # this process sends only: fresh connections to url
    env = {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}
    deployment = Deployment("qa-canvas", url, url, extra_env=env)
    app_ref = "tests.celery_compat.qa_canvas_runner:app"
    runner = RunnerProcess(
        deployment, "ProcessRunner", "--queues", QUEUE, log=log, app_ref=app_ref
    ).start()
    try:
        tasks.app.set_current()
        assert tasks.count_words.delay(1).get(timeout=WAIT) == 10, runner.log_tail()
        yield tasks
    finally:
        assert runner.stop() == 0, runner.log_tail()


@pytest.fixture
def tasks(flavour: ModuleType) -> Iterator[ModuleType]:
    """The flavour's project module, its app current."""
    previous = _state.get_current_app()
    flavour.app.set_current()
    yield flavour
    previous.set_current()


def on_celery(tasks: ModuleType) -> bool:
    return tasks is qa_canvas_celery


class Notes:
    """What the project's tasks noted (``note``) under one key: a Redis list, read with
    ``BLPOP`` (no polling), whichever process wrote it."""

    def __init__(self, url: str) -> None:
        self.key = f"qa-canvas-{uuid.uuid4()}"
        # redis-py 8 reads with a 5 s socket timeout by default: longer than a BLPOP here
        self.redis = redis.Redis.from_url(url, socket_timeout=WAIT + 30)

    def take(self, count: int = 1) -> list[Any]:
        entries: list[Any] = []
        for _ in range(count):
            popped = self.redis.blpop([self.key], timeout=WAIT)
            assert popped is not None, f"only {len(entries)} of {count} notes came: {entries}"
            entries.append(json.loads(popped[1]))
        return entries

    def drain(self) -> list[Any]:
        """The notes written so far, without waiting."""
        entries = []
        while (popped := self.redis.lpop(self.key)) is not None:
            entries.append(json.loads(popped))
        return entries

    def nothing_more(self, wait: float = 1.0) -> None:
        popped = self.redis.blpop([self.key], timeout=wait)
        assert popped is None, f"one note too many: {json.loads(popped[1])}"


@pytest.fixture
def notes(tasks: ModuleType) -> Iterator[Notes]:
    found = Notes(tasks.app.conf.broker_url)
    yield found
    found.redis.delete(found.key)
    found.redis.close()


class Gate:
    """A folder a ``held`` task waits on until the test releases it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = str(folder)

    def wait_started(self) -> None:
        wait_until((self.folder / "started").exists, WAIT, f"a task at gate {self.path}")

    def release(self) -> None:
        (self.folder / "release").write_text("go")


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    opened = Gate(tmp_path / "gate")
    yield opened
    opened.release()
