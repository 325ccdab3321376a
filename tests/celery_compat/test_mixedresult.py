"""A real ``celery.Celery`` app with a compat task (on a pynenc runner) and a Celery task
(on Celery's test worker): ``app.AsyncResult(id)`` and ``app.control.revoke(id)`` answer
for the ids of both, each from its own backend."""

import gc
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import celery
import celery.app.control
import celery.contrib.testing.tasks  # celery.ping, for start_worker
import pytest
from celery._state import get_current_app
from celery.contrib.testing.worker import start_worker
from celery.exceptions import TaskRevokedError
from celery.result import AsyncResult as CeleryAsyncResult
from celery.worker import state as worker_state

from pynenc_celery_compat import AsyncResult, mixed
from pynenc_celery_compat.bridge import pynenc_app_for, reset_pynenc_app
from tests.celery_compat import mixedresult_tasks as tasks
from tests.integration.deployments import ROOT, wait_until
from tests.servers import Server

pytestmark = pytest.mark.integration


@pytest.fixture
def project_app(redis_server: Server) -> Iterator[celery.Celery]:
    """The project's real Celery app, current, on Redis, with one Celery task (``add``)."""
    url = redis_server.db_url()
    app = celery.Celery("mixedresult", broker=url, backend=url, set_as_current=False)
    app.conf.broker_connection_retry_on_startup = True
    previous = get_current_app()
    app.set_current()

    @app.task(name="mixedresult.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    try:
        yield app
    finally:
        gc.collect()  # Celery's results unsubscribe when collected: while Redis is up
        app.close()
        reset_pynenc_app(app)
        previous.set_current()


@contextmanager
def both_workers(app: celery.Celery) -> Iterator[None]:
    """Celery's test worker and a pynenc runner of ``app``, in this process."""
    with (
        start_worker(app, pool="solo", shutdown_timeout=30),
        pynenc_app_for(app).running_in_background(),
    ):
        yield


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids ``app.AsyncResult`` looked up in pynenc's state backend."""
    seen: list[str] = []
    knows = mixed.knows

    def counting(celery_app: Any, task_id: str) -> bool:
        seen.append(task_id)
        return knows(celery_app, task_id)

    monkeypatch.setattr(mixed, "knows", counting)
    return seen


def test_app_async_result_answers_for_both_worlds(
    project_app: celery.Celery, lookups: list[str]
) -> None:
    add = project_app.tasks["mixedresult.add"]
    with both_workers(project_app):
        on_pynenc = tasks.multiply.delay(6, 7)
        failing = tasks.fails.delay("mixed")
        on_celery = add.delay(2, 3)
        assert type(on_celery) is not AsyncResult  # Celery's own, from Celery's delay
        assert on_pynenc.get(timeout=60) == 42
        assert on_celery.get(timeout=60) == 5
        with pytest.raises(LookupError):
            failing.get(timeout=60)

        # a view polling an id stored in the database: no task at hand
        compat = project_app.AsyncResult(on_pynenc.id)
        assert isinstance(compat, AsyncResult)
        assert (compat.state, compat.result, compat.get(timeout=10)) == ("SUCCESS", 42, 42)
        failed = project_app.AsyncResult(failing.id)
        assert failed.state == "FAILURE" and isinstance(failed.result, LookupError)

        own = project_app.AsyncResult(on_celery.id)
        assert not isinstance(own, AsyncResult)
        assert isinstance(own, project_app.AsyncResult)  # still the app's class
        assert (own.state, own.result, own.get(timeout=10)) == ("SUCCESS", 5, 5)

        unknown = project_app.AsyncResult("no-such-id")
        assert isinstance(unknown, CeleryAsyncResult) and not isinstance(unknown, AsyncResult)
        assert (unknown.state, unknown.result) == ("PENDING", None)

    # one state-backend read per id looked up without its task; none with it
    assert lookups == [on_pynenc.id, failing.id, on_celery.id, "no-such-id"]
    assert type(add.AsyncResult(on_celery.id)) is type(own)
    assert isinstance(tasks.multiply.AsyncResult(on_pynenc.id), AsyncResult)
    assert lookups == [on_pynenc.id, failing.id, on_celery.id, "no-such-id"]

    # the compat class itself, as a module reads it once `pynenc-celery migrate` moved its
    # `from celery.result import AsyncResult`: each id from its own backend, as the app's
    moved = AsyncResult(on_celery.id)
    assert not isinstance(moved, AsyncResult)
    assert (moved.state, moved.get(timeout=10)) == ("SUCCESS", 5)
    assert AsyncResult(on_pynenc.id).get(timeout=10) == 42
    assert type(AsyncResult("no-such-id")) is CeleryAsyncResult


def test_control_revoke_answers_for_both_worlds(project_app: celery.Celery) -> None:
    control = project_app.control  # made before the compat layer meets the app
    assert type(control).revoke is celery.app.control.Control.revoke
    add = project_app.tasks["mixedresult.add"]  # finalized: the compat tasks join it
    with both_workers(project_app):
        waiting = tasks.multiply.apply_async((1, 2), countdown=120)
        later = add.apply_async((1, 2), countdown=120)
        project_app.control.revoke(waiting.id)
        control.revoke([later.id])

        revoked = project_app.AsyncResult(waiting.id)
        assert revoked.state == "REVOKED"
        with pytest.raises(TaskRevokedError):
            revoked.get(timeout=10)
        # Celery's broadcast reached Celery's worker (in this process) for its id only
        wait_until(lambda: later.id in worker_state.revoked, 60, "Celery's revoke")
        assert waiting.id not in worker_state.revoked
    assert project_app.control is control


def test_an_app_the_layer_never_met_keeps_celerys_result(lookups: list[str]) -> None:
    app = celery.Celery("celery_only", broker="memory://", backend="cache+memory://")
    result = app.AsyncResult("some-id")
    assert type(result) is app.AsyncResult and not isinstance(result, AsyncResult)
    assert result.state == "PENDING"
    assert type(app.control).revoke is celery.app.control.Control.revoke
    assert lookups == []


POLLER = """
import sys
import celery

app = celery.Celery("mixedresult", broker=sys.argv[1], backend=sys.argv[1])
import tests.celery_compat.mixedresult_tasks  # the view's module imports its tasks
for task_id in sys.argv[2:]:
    result = app.AsyncResult(task_id)
    print(type(result).__module__, result.state, result.result)
"""


def test_a_process_that_only_polls(project_app: celery.Celery) -> None:
    """A web process that never calls a task reads both kinds of stored ids."""
    add = project_app.tasks["mixedresult.add"]
    with both_workers(project_app):
        on_pynenc, on_celery = tasks.multiply.delay(6, 7), add.delay(2, 3)
        assert (on_pynenc.get(timeout=60), on_celery.get(timeout=60)) == (42, 5)
    url = project_app.conf.broker_url
    ids = [on_pynenc.id, on_celery.id, "no-such-id"]
    done = subprocess.run(
        [sys.executable, "-c", POLLER, url, *ids],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "pynenc_celery_compat.result SUCCESS 42",
        "celery.result SUCCESS 5",
        "celery.result PENDING None",
    ]


def test_this_packages_celery_keeps_its_own_result_and_control() -> None:
    from pynenc_celery_compat import Celery
    from pynenc_celery_compat.control import Control

    app = Celery("compat_app", broker="memory://", backend="cache+memory://")
    mixed.install(app)
    assert "AsyncResult" not in app.__dict__
    assert type(app.control) is Control
