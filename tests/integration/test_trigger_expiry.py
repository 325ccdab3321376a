"""``on_status(task, ["expired"])`` fires for an invocation that expires before it starts:
at the claim (its message waited past the expiry) and in the scheduler (a delayed call
due after its expiry)."""

from __future__ import annotations

import datetime as dt

import pytest

from pynenc import InvocationStatus
from tests.apps import trigger_expiry
from tests.apps.trigger_expiry import app, on_expired, perishable
from tests.integration.deployments import wait_until


@pytest.fixture(autouse=True)
def _fresh() -> None:
    app.purge()


def _fired_for(invocation_id: str) -> list[str]:
    ids = app.state_backend.find(on_expired.task_id.key)
    records = [r for r in app.state_backend.get_many(ids) if r is not None]
    return [
        r.invocation_id
        for r in records
        if r.status is InvocationStatus.SUCCESS
        and app.serializer.loads(r.result or "null") == invocation_id
    ]


def test_expired_at_the_claim_fires_on_status_expired() -> None:
    late = perishable.with_options(expires=0.2)(1)  # no runner up yet: its message waits
    gone = dt.datetime.now(dt.UTC).timestamp() + 0.2
    wait_until(lambda: dt.datetime.now(dt.UTC).timestamp() > gone, 5, "the expiry")
    with app.running_in_background():
        wait_until(lambda: late.status is InvocationStatus.EXPIRED, 30, "EXPIRED")
        wait_until(lambda: len(_fired_for(late.invocation_id)) == 1, 30, "the trigger")
    assert len(_fired_for(late.invocation_id)) == 1


def test_expired_in_the_scheduler_fires_on_status_expired() -> None:
    due_late = perishable.with_options(delay=0.1, expires=0.3)(2)  # no scheduler up yet
    gone = dt.datetime.now(dt.UTC).timestamp() + 0.3
    wait_until(lambda: dt.datetime.now(dt.UTC).timestamp() > gone, 5, "the expiry")
    assert due_late.status is InvocationStatus.SCHEDULED
    with app.running_in_background():
        wait_until(lambda: due_late.status is InvocationStatus.EXPIRED, 30, "EXPIRED")
        wait_until(lambda: len(_fired_for(due_late.invocation_id)) == 1, 30, "the trigger")
    assert trigger_expiry.perishable.task_id.key in app.trigger.watched
