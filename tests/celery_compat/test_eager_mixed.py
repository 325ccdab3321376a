"""Mixed apps: the project's app is a real ``celery.Celery`` set eager by its tests, and a
module uses ``pynenc_celery_compat.shared_task``: its tasks run eagerly too, as Celery's own
shared tasks do (they follow the current Celery app)."""

from __future__ import annotations

from collections.abc import Iterator

import celery
import pytest
from celery import _state, states
from celery.result import EagerResult

from pynenc_celery_compat import AsyncResult
from pynenc_celery_compat.eager import stop_eager_runner
from tests.celery_compat import eager_mixed_tasks as tasks


@pytest.fixture
def project_app() -> Iterator[celery.Celery]:
    """The project's real Celery app, current, with the usual test settings."""
    before = _state.get_current_app()
    app = celery.Celery("project", broker="memory://", backend="cache+memory://")
    app.conf.update(task_always_eager=True, task_store_eager_result=True)
    app.set_current()
    tasks.SEEN.clear()
    try:
        yield app
    finally:
        stop_eager_runner(app)
        _state._set_current_app(before)


def test_compat_shared_tasks_follow_the_real_apps_eager_mode(project_app: celery.Celery) -> None:
    result = tasks.where.delay((1, 2))
    assert type(result) is EagerResult
    assert result.get() == {"value": [1, 2], "retries": 1}
    assert [(seen["retries"], seen["is_eager"], seen["app"]) for seen in tasks.SEEN] == [
        (0, True, "project"),
        (1, True, "project"),
    ]
    assert project_app.tasks[tasks.where.name] is tasks.where
    # stored in the real app's result backend, as its own eager tasks are
    assert project_app.AsyncResult(result.id).get() == {"value": [1, 2], "retries": 1}
    assert tasks.where.AsyncResult(result.id).state == states.SUCCESS


def test_failures_and_propagation_follow_the_real_app(project_app: celery.Celery) -> None:
    assert tasks.fails.delay().state == states.FAILURE
    project_app.conf.task_eager_propagates = True
    with pytest.raises(LookupError, match="mixed"):
        tasks.fails.delay()


def test_the_in_process_runner_serves_the_real_app_too(project_app: celery.Celery) -> None:
    project_app.conf.pynenc_eager_runner = True

    @project_app.task(shared=False)
    def celery_own(x: int) -> int:
        return x * 2

    result = tasks.where.delay("runner", countdown=0.1)
    assert isinstance(result, AsyncResult)
    assert result.get(timeout=60) == {"value": "runner", "retries": 1}
    # on the runner's threads too, the task's app is the project's (not Celery's fallback
    # "default" app of a thread that has no current app)
    assert [(seen["is_eager"], seen["app"]) for seen in tasks.SEEN] == [
        (False, "project"),
        (False, "project"),
    ]
    # the project's own Celery tasks stay eager
    assert type(celery_own.delay(2)) is EagerResult


def test_each_new_current_app_brings_its_own_settings(project_app: celery.Celery) -> None:
    first = tasks.where.delay(1)
    assert first.state == states.SUCCESS
    assert tasks.where.store_eager_result is True  # read from the project app when bound
    # a test's fresh app (as celery.contrib.pytest's celery_app fixture makes one per test)
    fresh = celery.Celery("fresh", broker="memory://", backend="cache+memory://")
    fresh.conf.update(task_always_eager=True, task_eager_propagates=True)
    fresh.set_current()
    with pytest.raises(LookupError):
        tasks.fails.delay()  # this app propagates
    fresh.conf.task_eager_propagates = False
    assert tasks.where.delay(2).get()["value"] == 2
    assert tasks.where.app is fresh and tasks.where.store_eager_result is False
    project_app.set_current()
    assert tasks.fails.delay().state == states.FAILURE  # back: swallowed again
    assert tasks.where.delay(3).state == states.SUCCESS
    assert tasks.where.app is project_app and tasks.where.store_eager_result is True
