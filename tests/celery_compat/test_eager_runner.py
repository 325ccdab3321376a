"""The opt-in in-process runner (``pynenc_eager_runner``): an eager app's compat tasks run on
a real pynenc runner in a background thread (the production path), started on first call."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import states
from celery.result import EagerResult

from pynenc_celery_compat import AsyncResult, Celery
from pynenc_celery_compat.eager import eager_runner, stop_eager_runner, wants_runner
from tests.celery_compat import eager_runner_tasks as tasks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner_mode() -> Iterator[Any]:
    """``pynenc_eager_runner = True`` on the tasks' (eager) app; the runner is stopped after."""
    tasks.ATTEMPTS.clear()
    tasks.app.conf.pynenc_eager_runner = True
    try:
        yield tasks.app
    finally:
        tasks.app.conf.pynenc_eager_runner = False
        stop_eager_runner(tasks.app)


@pytest.mark.usefixtures("runner_mode")
def test_delay_runs_on_the_in_process_runner() -> None:
    result = tasks.add.delay(2, 3)
    assert isinstance(result, AsyncResult) and not isinstance(result, EagerResult)
    assert result.get(timeout=60) == 5
    assert result.state == states.SUCCESS
    assert tasks.app.AsyncResult(result.id).state == states.SUCCESS  # read from pynenc


@pytest.mark.usefixtures("runner_mode")
def test_the_request_is_a_workers() -> None:
    seen = tasks.describe.delay(1).get(timeout=60)
    assert seen["is_eager"] is False
    assert seen["hostname"].startswith("pynenc@")
    assert seen["retries"] == 0


@pytest.mark.usefixtures("runner_mode")
def test_a_failure_is_a_failed_result_not_a_raise() -> None:
    tasks.app.conf.task_eager_propagates = True  # an eager-only setting: no effect here
    try:
        result = tasks.boom.delay()
    finally:
        tasks.app.conf.task_eager_propagates = False
    with pytest.raises(ValueError, match="boom"):
        result.get(timeout=60)
    assert result.state == states.FAILURE


@pytest.mark.usefixtures("runner_mode")
def test_a_countdown_is_honoured() -> None:
    started = time.monotonic()
    result = tasks.add.apply_async((1, 1), countdown=1)
    assert result.get(timeout=60) == 2
    assert time.monotonic() - started >= 0.95


@pytest.mark.usefixtures("runner_mode")
def test_a_retry_waits_its_countdown() -> None:
    result = tasks.retried.delay(1)
    assert result.get(timeout=60) == 1
    first, second = tasks.ATTEMPTS
    assert second - first >= 0.95


def test_without_the_runner_the_countdown_is_ignored() -> None:
    tasks.ATTEMPTS.clear()
    started = time.monotonic()
    result = tasks.add.apply_async((1, 1), countdown=30)
    assert type(result) is EagerResult and result.get() == 2
    retried = tasks.retried.delay(30)
    assert retried.get() == 1 and len(tasks.ATTEMPTS) == 2
    assert time.monotonic() - started < 30
    assert "_pynenc_eager_runner" not in tasks.app.__dict__ or not (
        tasks.app.__dict__["_pynenc_eager_runner"].running
    )


def test_the_context_manager_runs_the_block_on_the_runner() -> None:
    assert not wants_runner(tasks.app)
    with eager_runner(tasks.app) as pynenc:
        assert wants_runner(tasks.app)
        result = tasks.add.delay(4, 4)
        assert isinstance(result, AsyncResult)
        assert result.get(timeout=60) == 8
        assert pynenc.conf.state_backend_url == "memory://"
    assert not wants_runner(tasks.app)
    assert type(tasks.add.delay(1, 1)) is EagerResult
    assert pynenc.conf.state_backend_url.startswith("redis://")  # the configured one is back


def test_the_django_setting_turns_it_on() -> None:
    class Settings:
        CELERY_TASK_ALWAYS_EAGER = True
        CELERY_PYNENC_EAGER_RUNNER = True

    app = Celery("django_like", set_as_current=False)
    app.config_from_object(Settings, namespace="CELERY")
    task = app.task(name="django_like.add")(tasks.add_body)
    try:
        assert wants_runner(app)
        result = task.delay(20, 22)
        assert isinstance(result, AsyncResult)
        assert result.get(timeout=60) == 42
    finally:
        stop_eager_runner(app)


def test_a_task_on_a_new_queue_restarts_the_runner() -> None:
    app = Celery("queues", set_as_current=False)
    app.conf.update(task_always_eager=True, pynenc_eager_runner=True)
    first = app.task(name="queues.first")(tasks.add_body)
    try:
        before = first.delay(1, 2)
        assert before.get(timeout=60) == 3
        # a task declared after the runner started, on a queue it does not consume yet
        with pytest.warns(DeprecationWarning, match="queue"):
            other = app.task(name="queues.other", queue="elsewhere")(tasks.add_body)
            after = other.delay(3, 4)
        assert after.get(timeout=60) == 7
        assert before.state == states.SUCCESS  # the memory kept what it held
    finally:
        stop_eager_runner(app)


def test_the_runner_stops_at_interpreter_exit() -> None:
    script = (
        "from tests.celery_compat import eager_runner_tasks as t\n"
        "t.app.conf.pynenc_eager_runner = True\n"
        "print(t.add.delay(5, 6).get(timeout=60), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "11"
    assert "did not stop cleanly" not in done.stderr
