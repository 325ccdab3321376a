"""The scheduler pass and the services lease it runs under (memory backend, no runner)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import BrokerError
from pynenc.orchestrator import scheduling
from pynenc.runner.services import SERVICES_LEASE, RunnerServices
from tests.apps import core

S = InvocationStatus


@pytest.fixture
def app() -> Iterator[Pynenc]:
    core.app.conf.dev_mode_force_sync_tasks = False
    core.app.purge()
    yield core.app
    core.app.purge()


def _due_now(app: Pynenc, **options: Any) -> str:
    """A scheduled invocation, made due by moving its due time into the past."""
    invocation = core.add.with_options(delay=0.05, **options)(1, 2)
    record = app.state_backend.get(invocation.invocation_id)
    assert record is not None and record.due is not None
    while time.time() <= record.due:
        time.sleep(0.01)
    return invocation.invocation_id


def test_the_pass_sleeps_until_the_next_due_time(app: Pynenc) -> None:
    now = time.time()
    assert app.orchestrator.publish_due("me", now, 0.2) == 0.2  # nothing scheduled
    core.add.with_options(delay=60)(1, 2)
    assert app.orchestrator.publish_due("me", time.time(), 0.2) == 0.2  # beyond the horizon
    core.add.with_options(delay=0.1)(1, 2)
    wait = app.orchestrator.publish_due("me", time.time(), 0.2)
    assert 0 < wait <= 0.1


def test_a_full_batch_asks_for_the_next_pass_at_once(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduling, "BATCH", 2)
    ids = [_due_now(app) for _ in range(3)]
    assert app.orchestrator.publish_due("me", time.time(), 0.2) == 0.0
    app.orchestrator.publish_due("me", time.time(), 0.2)
    assert {app.orchestrator.get_record(i).status for i in ids} == {S.REGISTERED}


def test_a_publish_lost_after_the_release_is_redelivered(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compare-and-set took it out of the index; the broker failed: it is REGISTERED,
    not lost, and redelivery publishes it (as for any message a broker lost)."""
    inv = _due_now(app)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise BrokerError("broker down")

    published: list[str] = []
    original = app.broker.publish
    monkeypatch.setattr(app.broker, "publish", refuse)
    app.orchestrator.publish_due("me", time.time(), 0.2)
    assert app.orchestrator.get_record(inv).status is S.REGISTERED
    assert app.state_backend.due(float("inf"), 10) == []

    def record(envelopes: Any, *args: Any) -> None:
        published.extend(e.invocation_id for e in envelopes)
        original(envelopes, *args)

    monkeypatch.setattr(app.broker, "publish", record)
    assert app.orchestrator.redeliver_stale("me", time.time() + 5, after=1) == 1
    assert published == [inv]


def test_an_expired_scheduled_invocation_is_not_published(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = _due_now(app, expires=0.1)
    published: list[Any] = []
    monkeypatch.setattr(app.broker, "publish", lambda envelopes, *a: published.extend(envelopes))
    app.orchestrator.publish_due("me", time.time() + 1, 0.2)  # its expiry has passed by then
    record = app.orchestrator.get_record(inv)
    assert record.status is S.EXPIRED and published == []
    assert app.state_backend.history(inv)[-1].reason == scheduling.NOT_STARTED


def test_a_stopping_runner_hands_the_services_lease_on(app: Pynenc) -> None:
    first = RunnerServices(app, "first")
    first.start()
    try:
        assert not app.state_backend.acquire_lease(SERVICES_LEASE, "second", 10, time.time())
    finally:
        first.stop()
    assert app.state_backend.acquire_lease(SERVICES_LEASE, "second", 10, time.time())
