"""The two flavours of the side-by-side suite, each with a running worker.

``flavour`` is parametrised over ``celery`` (``tasks_celery`` on a real Celery 5.7 test
worker, threads pool) and ``compat`` (``tasks_compat`` on a pynenc runner in this process);
both on a Redis broker and a Redis result backend, each flavour on a database of its own.
It is package-scoped: one worker per flavour for the whole suite.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from celery import _state
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult

from tests.celery_compat.sidebyside import tasks_celery, tasks_compat
from tests.integration.deployments import wait_until
from tests.servers import Server

FLAVOURS = ["celery", "compat"]
#: where each flavour's canvas names come from (``from celery import chain`` migrates to
#: ``from pynenc_celery_compat import chain``, as the tasks modules' import line does)
CANVAS_PACKAGES = {"celery": "celery", "compat": "pynenc_celery_compat"}
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


def let_go_of_waiting_results(app: Any) -> None:
    """Stop Celery's result backends waiting on results nobody read (a canvas's inner steps,
    registered by the worker's threads, each with its backend), while Redis still runs; else
    they unsubscribe when the interpreter exits, from a stopped Redis, and print errors."""
    for found in gc.get_objects():
        if isinstance(found, AsyncResult) and found.app is app and found.backend is not None:
            found.backend.remove_pending_result(found)


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
        let_go_of_waiting_results(tasks_celery.app)
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

        def written() -> bool:  # created, then written: the pid may not be there yet
            return started.exists() and started.read_text().strip() != ""

        wait_until(written, WAIT, f"a task to start at gate {self.path}")
        return int(started.read_text())

    def release(self) -> None:
        (self.folder / "release").write_text("go")


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    opened = Gate(tmp_path / "gate")
    yield opened
    opened.release()  # never leave a worker slot held by a failed test


@pytest.fixture
def canvas(flavour: Flavour) -> ModuleType:
    """The package the flavour's ``chain``, ``group``, ``chord``, ``signature`` … come from
    (a name the compat package lacks fails the test that uses it, not the whole suite)."""
    return importlib.import_module(CANVAS_PACKAGES[flavour.name])


class Written:
    """What the canvas callbacks of one test wrote down (``tasks_celery.write_down``): a
    Redis list of the flavour's Redis, read with ``BLPOP`` (no polling)."""

    def __init__(self, url: str) -> None:
        self.key = f"sidebyside-canvas-{uuid.uuid4()}"
        # redis-py 8 reads with a 5 s socket timeout by default: BLPOP waits longer here
        self.redis = redis.Redis.from_url(url, socket_timeout=WAIT + 30)

    def take(self, count: int = 1) -> list[dict[str, Any]]:
        """The next ``count`` entries, in the order they were written; waits for each."""
        entries: list[dict[str, Any]] = []
        for _ in range(count):
            popped = self.redis.blpop([self.key], timeout=WAIT)
            assert popped is not None, f"{len(entries)} of {count} callbacks ran: {entries}"
            entries.append(json.loads(popped[1]))
        return entries

    def already(self) -> list[dict[str, Any]]:
        """The entries written so far, without waiting (callbacks an eager call ran inline)."""
        entries = []
        while (popped := self.redis.lpop(self.key)) is not None:
            entries.append(json.loads(popped))
        return entries

    def nothing_more(self, wait: float = 1.0) -> None:
        """No further entry within ``wait`` seconds (a callback ran once, not twice)."""
        popped = self.redis.blpop([self.key], timeout=wait)
        assert popped is None, f"a callback ran once more: {json.loads(popped[1])}"


@pytest.fixture
def written(flavour: Flavour) -> Iterator[Written]:
    record = Written(flavour.broker_url)
    yield record
    record.redis.delete(record.key)
    record.redis.close()


def wait_for_state(result: Any, state: str) -> None:
    """Poll ``result.state`` (the worker is in another thread or process) until ``state``."""
    wait_until(lambda: result.state == state, WAIT, f"{result!r} to reach {state}")


def settled(*results: Any) -> None:
    """Wait until each of ``results`` is stored ready (any final state). Celery's worker
    sends a chain step's next step, links and failure propagation before it stores the
    step's own result: an earlier step may still read PENDING, with no children, when a
    later one is done."""
    for result in results:
        wait_until(result.ready, WAIT, f"{result!r} to be stored")


def compat_gap(reason: str) -> pytest.MarkDecorator:
    """Mark a test the compat flavour does not pass yet (a known gap, not a difference kept
    on purpose): expected to fail there, strictly, so the fix shows as a pass to unmark."""
    return pytest.mark.compat_gap(reason=reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "compat_gap(reason): the compat flavour fails it (a gap)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Celery's Redis result backend calls a redis-py method redis-py deprecates: not ours.
    A ``compat_gap`` test is an expected failure on the compat flavour."""
    here = str(Path(__file__).parent)
    ignore = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(ignore)
        gap = item.get_closest_marker("compat_gap")
        callspec = getattr(item, "callspec", None)
        if gap is not None and callspec is not None and callspec.params.get("flavour") == "compat":
            reason = f"compat gap: {gap.kwargs['reason']}"
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
