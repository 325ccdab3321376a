"""Switching compat tasks back to Celery by configuration, end to end: a real Celery worker
(Redis broker and backend) runs them, then a pynenc runner after switching forward again."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import celery
import celery.contrib.testing.tasks  # celery.ping, for start_worker
import pytest
from celery import signals
from celery._state import get_current_app
from celery.contrib.testing.worker import start_worker
from celery.exceptions import Retry
from celery.result import AsyncResult as CeleryAsyncResult

from pynenc.exceptions import InvocationNotFoundError
from pynenc_celery_compat import AsyncResult, routing
from pynenc_celery_compat.bridge import pynenc_app_for, reset_pynenc_app
from pynenc_celery_compat.trace import HOSTNAME
from tests.celery_compat import switchback_tasks as tasks
from tests.servers import Server

MODULE = "tests.celery_compat.switchback_tasks"


@pytest.fixture
def project_app(redis_server: Server) -> Iterator[celery.Celery]:
    """The project's real Celery app (a partial migration keeps it), current, on Redis."""
    url = redis_server.db_url()
    app = celery.Celery("switchback", broker=url, backend=url, set_as_current=False)
    app.conf.broker_connection_retry_on_startup = True
    previous = get_current_app()
    app.set_current()
    routing.reload()
    try:
        yield app
    finally:
        gc.collect()  # Celery's results unsubscribe when collected: while Redis is up
        app.close()
        reset_pynenc_app(app)
        previous.set_current()
        routing.reload()


@pytest.fixture
def retries() -> Iterator[list[Any]]:
    """The ``reason`` of every ``task_retry`` sent during the test."""
    seen: list[Any] = []

    def record(reason: Any = None, **_: Any) -> None:
        seen.append(reason)

    signals.task_retry.connect(record, weak=False)
    yield seen
    signals.task_retry.disconnect(record)


def _not_on_pynenc(app: celery.Celery, task_id: str) -> bool:
    try:
        pynenc_app_for(app).orchestrator.get_record(task_id)
    except InvocationNotFoundError:
        return True
    return False


def _on_celery(app: celery.Celery, retries: list[Any]) -> None:
    result = tasks.where.delay(2, 3)
    assert type(result) is CeleryAsyncResult  # Celery's own result, on Celery's backend
    value = result.get(timeout=60)
    assert value["value"] == 5 and value["hostname"] != HOSTNAME  # not a pynenc runner
    assert tasks.where.AsyncResult(result.id).state == "SUCCESS"
    assert type(tasks.where.AsyncResult(result.id)) is CeleryAsyncResult
    assert _not_on_pynenc(app, result.id)

    retried = tasks.flaky.apply_async((2,))
    value = retried.get(timeout=60)
    assert value["retries"] == 2 and value["hostname"] != HOSTNAME
    assert len(retries) == 2
    # Celery's retry: a Retry carrying the signature it re-published
    assert all(isinstance(r, Retry) and r.sig is not None for r in retries)

    exhausted = tasks.flaky.delay(5)
    with pytest.raises(KeyError):
        exhausted.get(timeout=60)
    assert exhausted.state == "FAILURE"
    retries.clear()


def _on_pynenc(app: celery.Celery, retries: list[Any]) -> None:
    with pynenc_app_for(app).running_in_background():
        result = tasks.where.delay(2, 3)
        assert isinstance(result, AsyncResult)
        assert result.get(timeout=60) == {"value": 5, "hostname": HOSTNAME}
        assert isinstance(tasks.where.AsyncResult(result.id), AsyncResult)

        retried = tasks.flaky.delay(2)
        assert retried.get(timeout=60) == {"retries": 2, "hostname": HOSTNAME}
        assert len(retries) == 2 and all(r.sig is None for r in retries)  # pynenc's retry
    retries.clear()


def test_back_to_celery_and_forward_again(project_app: celery.Celery, retries: list[Any]) -> None:
    project_app.conf.pynenc_celery_tasks = [MODULE]  # the whole module, by configuration
    with start_worker(project_app, pool="solo", shutdown_timeout=30):
        _on_celery(project_app, retries)

        project_app.conf.pynenc_celery_tasks = None  # forward again: pynenc runs them
        _on_pynenc(project_app, retries)

        project_app.conf.pynenc_celery_tasks = [f"{MODULE}.where", f"{MODULE}.flaky"]
        result = tasks.where.delay(1, 1)  # back again, by task names this time
        assert type(result) is CeleryAsyncResult
        assert result.get(timeout=60)["hostname"] != HOSTNAME


def test_the_environment_variable_switches_back_without_settings(
    project_app: celery.Celery, retries: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(routing.ENV_VAR, f"{MODULE}.*")
    routing.reload()
    with start_worker(project_app, pool="solo", shutdown_timeout=30):
        _on_celery(project_app, retries)

    monkeypatch.setenv(routing.ENV_VAR, "!*")  # the variable wins over settings: none back
    project_app.conf.pynenc_celery_tasks = True
    routing.reload()
    _on_pynenc(project_app, retries)


def _published(sent: list[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    """``before_task_publish`` payloads of ``task_id``, its own ids and the reply queue
    (the caller's on Celery, the runner thread's on pynenc) replaced by markers."""
    out = []
    for payload in sent:
        if payload["headers"]["id"] != task_id:
            continue
        headers = {
            k: ("<id>" if v == task_id else v)
            for k, v in payload["headers"].items()
            if k != "signal"
        }
        properties = {k: ("<id>" if v == task_id else v) for k, v in payload["properties"].items()}
        properties.pop("reply_to")
        properties.pop("priority", None)  # the delivery's priority: 0 on Celery's Redis
        out.append({**payload, "headers": headers, "properties": properties})
    return out


def test_a_retry_publishes_as_on_a_celery_worker(project_app: celery.Celery) -> None:
    sent: list[dict[str, Any]] = []

    def record(signal: Any = None, **payload: Any) -> None:
        sent.append(payload)

    signals.before_task_publish.connect(record, weak=False)
    try:
        project_app.conf.pynenc_celery_tasks = True
        with start_worker(project_app, pool="solo", shutdown_timeout=30):
            on_celery = tasks.flaky.delay(1)
            assert on_celery.get(timeout=60)["retries"] == 1
        project_app.conf.pynenc_celery_tasks = None
        with pynenc_app_for(project_app).running_in_background():
            on_pynenc = tasks.flaky.delay(1)
            assert on_pynenc.get(timeout=60)["retries"] == 1
    finally:
        signals.before_task_publish.disconnect(record)
    theirs, ours = _published(sent, on_celery.id), _published(sent, on_pynenc.id)
    assert [p["headers"]["retries"] for p in theirs] == [0, 1]
    assert theirs == ours
