"""``revoke()`` of a running call, as Celery: without ``terminate`` the running task
finishes (Celery only keeps queued work from starting); ``terminate=True`` stops it, and
its ``TaskRevokedError`` says ``terminated``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pynenc_celery_compat import AsyncResult, Celery, exceptions, states
from tests.celery_compat import qa_celery_tasks as tasks


@pytest.fixture
def runner() -> Iterator[Celery]:
    app = Celery("qa_revoke", broker="memory://", backend="cache+memory://")
    app.set_current()
    with app.pynenc.running_in_background():
        yield app


def _started(result: AsyncResult) -> None:
    deadline = time.monotonic() + 60
    while result.state != states.STARTED:
        assert time.monotonic() < deadline, result.state
        time.sleep(0.05)


def test_revoke_without_terminate_lets_a_running_task_finish(runner: Celery) -> None:
    result = tasks.qa_sleepy.delay(1.5)
    _started(result)
    result.revoke()
    assert result.get(timeout=60) == 1.5
    assert result.state == states.SUCCESS


def test_control_revoke_without_terminate_lets_a_running_task_finish(runner: Celery) -> None:
    result = tasks.qa_sleepy.delay(1.5)
    _started(result)
    runner.control.revoke(result.id)
    assert result.get(timeout=60) == 1.5


def test_revoke_with_terminate_stops_it_as_terminated(runner: Celery) -> None:
    result = tasks.qa_sleepy.delay(1.5)
    _started(result)
    result.revoke(terminate=True)
    with pytest.raises(exceptions.TaskRevokedError) as raised:
        result.get(timeout=60)
    assert str(raised.value) == "terminated"
    assert result.state == states.REVOKED


def test_revoke_before_it_starts_still_revokes(runner: Celery) -> None:
    result = tasks.qa_sleepy.apply_async((0,), countdown=600)
    result.revoke()
    with pytest.raises(exceptions.TaskRevokedError) as raised:
        result.get(timeout=60)
    assert str(raised.value) == "revoked"
