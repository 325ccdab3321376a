"""A compat task that a real Celery worker runs (a message Celery published: the real
app's ``send_task``, or one queued before the module migrated) retries on Celery, as the
Celery task it was: its caller reads Celery's result backend and must see it finish."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import celery
import celery.contrib.testing.tasks  # celery.ping, for start_worker
import pytest
from celery._state import get_current_app
from celery.contrib.testing.worker import start_worker

from pynenc.exceptions import InvocationNotFoundError
from pynenc_celery_compat import routing
from pynenc_celery_compat.bridge import pynenc_app_for, reset_pynenc_app
from pynenc_celery_compat.trace import HOSTNAME
from tests.celery_compat import qa_celery_tasks as tasks
from tests.servers import Server


@pytest.fixture
def project_app(redis_server: Server) -> Iterator[celery.Celery]:
    """The project's real Celery app on Redis, current; nothing switched back."""
    url = redis_server.db_url()
    app = celery.Celery("qa_retry", broker=url, backend=url, set_as_current=False)
    app.conf.broker_connection_retry_on_startup = True
    previous = get_current_app()
    app.set_current()
    routing.reload()
    try:
        yield app
    finally:
        gc.collect()
        app.close()
        reset_pynenc_app(app)
        previous.set_current()
        routing.reload()


def _not_on_pynenc(app: celery.Celery, task_id: str) -> bool:
    try:
        pynenc_app_for(app).orchestrator.get_record(task_id)
    except InvocationNotFoundError:
        return True
    return False


def test_self_retry_on_a_celery_worker_stays_on_celery(project_app: celery.Celery) -> None:
    with start_worker(project_app, pool="solo", shutdown_timeout=30):
        result = project_app.send_task(tasks.qa_flaky.name, args=(2,))  # Celery's message
        value = result.get(timeout=60)
    assert value["retries"] == 2 and value["hostname"] != HOSTNAME
    assert result.state == "SUCCESS"
    assert _not_on_pynenc(project_app, result.id)  # the retries did not go to pynenc


def test_autoretry_on_a_celery_worker_stays_on_celery(
    project_app: celery.Celery, tmp_path: Path
) -> None:
    failures = tmp_path / "failures"
    failures.write_text("1")
    with start_worker(project_app, pool="solo", shutdown_timeout=30):
        result = project_app.send_task(tasks.qa_autoretried.name, args=(str(failures),))
        assert result.get(timeout=60) == "done"
    assert _not_on_pynenc(project_app, result.id)


def test_calls_made_inside_still_follow_the_configuration(project_app: celery.Celery) -> None:
    """Only the retry of the running Celery request is kept on Celery: a new call made on a
    Celery worker goes where the configuration says (pynenc here)."""
    with start_worker(project_app, pool="solo", shutdown_timeout=30):
        result = tasks.qa_flaky.delay(0)
        assert not _not_on_pynenc(project_app, result.id)
