"""Cancellation over every state backend: the orchestrator's rules, no runner needed.

CANCELLED is entered from every unfinished status by whoever cancels (no owner check),
stores the error waiters get, wakes them, and refuses every later move: the owner's
outcome, a retry, a reroute, a claim. Recovery never reroutes a cancelled invocation.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import InvocationCancelledError, Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.records import InvocationStatus
from pynenc.serializer import payload_to_exception
from tests.apps import deadlines
from tests.contract.test_state_backend_contract import BACKENDS

S = InvocationStatus
OWNER = "runner-that-claimed-it"


@pytest.fixture(params=list(BACKENDS))
def app(request: pytest.FixtureRequest) -> Iterator[Pynenc]:
    """``tests.apps.deadlines`` on each state backend (memory:// broker: no runner here)."""
    app = deadlines.app
    app.reset_components()
    app.conf.broker_url = "memory://"
    app.conf.state_backend_url = BACKENDS[request.param](request)
    app.conf.app_id = f"contract-cancel-{uuid.uuid4().hex[:8]}"
    yield app
    app.purge()
    app.reset_components()
    app.conf.app_id = "tests-deadlines"


def _registered(app: Pynenc) -> tuple[str, Envelope]:
    invocation = deadlines.add(1, 2)
    record = app.orchestrator.get_record(invocation.invocation_id)
    return invocation.invocation_id, app.orchestrator.envelope_for(record)


def _running(app: Pynenc) -> tuple[str, Envelope]:
    invocation_id, envelope = _registered(app)
    assert app.orchestrator.claim_each([envelope], OWNER) == [None]
    return invocation_id, envelope


def _in(app: Pynenc, status: InvocationStatus) -> tuple[str, Envelope]:
    if status is S.REGISTERED:
        return _registered(app)
    invocation_id, envelope = _running(app)
    if status is S.RETRY:
        assert app.orchestrator.retry(envelope, OWNER, {"type": "x.Error", "message": "m"})
    elif status is S.REROUTED:
        record = app.orchestrator.get_record(invocation_id)
        assert app.orchestrator.reroute(record, "recovery", "its runner died", 3)
    return invocation_id, envelope


@pytest.mark.parametrize("status", [S.REGISTERED, S.RUNNING, S.RETRY, S.REROUTED])
def test_every_unfinished_status_is_cancelled_by_anyone(
    app: Pynenc, status: InvocationStatus
) -> None:
    invocation_id, _ = _in(app, status)
    answer = app.orchestrator.cancel(invocation_id, by="operator", reason="wrong input")
    assert answer.cancelled and answer.previous is status
    record = app.orchestrator.get_record(invocation_id)
    assert (record.status, record.owner) == (S.CANCELLED, None)
    last = app.state_backend.history(invocation_id)[-1]
    assert (last.status, last.runner_id, last.reason) == (S.CANCELLED, "operator", "wrong input")
    assert record.error is not None
    error = payload_to_exception(record.error)
    assert isinstance(error, InvocationCancelledError)
    assert (error.cancelled_by, error.reason, error.invocation_id) == (
        "operator",
        "wrong input",
        invocation_id,
    )
    assert error.cancelled_at == pytest.approx(last.timestamp)


def test_a_waiter_wakes_with_the_cancellation(app: Pynenc) -> None:
    invocation_id, _ = _running(app)
    seen: dict[str, Any] = {}

    def wait() -> None:
        seen["record"] = app.orchestrator.wait_final(invocation_id, 30)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)  # let it block (it would return at once if already final)
    began = time.monotonic()
    assert app.orchestrator.cancel(invocation_id)
    waiter.join(30)
    assert not waiter.is_alive() and seen["record"].status is S.CANCELLED
    assert time.monotonic() - began < 5


def test_after_a_cancel_the_owner_cannot_record_retry_or_reroute(app: Pynenc) -> None:
    invocation_id, envelope = _running(app)
    assert app.orchestrator.cancel(invocation_id)
    orchestrator = app.orchestrator
    assert not orchestrator.finish(invocation_id, S.SUCCESS, OWNER, result="3")
    assert not orchestrator.finish(invocation_id, S.FAILED, OWNER, error={"type": "x.E"})
    assert not orchestrator.retry(envelope, OWNER, {"type": "x.E", "message": "m"})
    record = orchestrator.get_record(invocation_id)
    assert not orchestrator.reroute(record, "recovery", "its runner died", 3)
    orchestrator.recover("recovery", time.time(), 0.1, 3)  # OWNER never beat: "dead"
    refusal = orchestrator.claim_each([envelope], "another-runner")[0]
    assert refusal is not None and refusal.reason == "it was cancelled"
    final = orchestrator.get_record(invocation_id)
    assert (final.status, final.result, final.num_retries) == (S.CANCELLED, None, 0)
    statuses = [e.status for e in app.state_backend.history(invocation_id)]
    assert statuses == [S.REGISTERED, S.RUNNING, S.CANCELLED]


def test_cancelling_a_finished_invocation_changes_nothing(app: Pynenc) -> None:
    invocation_id, _ = _running(app)
    assert app.orchestrator.finish(invocation_id, S.SUCCESS, OWNER, result="3")
    before = app.state_backend.history(invocation_id)
    answer = app.orchestrator.cancel(invocation_id)
    assert not answer and answer.status is S.SUCCESS
    assert "already finished (SUCCESS); nothing changed" in answer.message
    assert app.state_backend.history(invocation_id) == before
    assert app.orchestrator.get_record(invocation_id).result == "3"
