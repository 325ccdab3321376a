"""A retry that runs with new arguments, and a call that carries on another's retries.

The runner's ``record`` step, given a ``RetryError`` carrying serialized arguments
(``retry_arguments``, set by the Celery layer's ``retry(args=)``), stores them with the
retry and publishes them; a delayed retry keeps them for the scheduler. Real in-process
components (memory broker and state), the steps called as a runner's thread calls them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pynenc import InvocationStatus, Outcome, Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.call_options import CallOptions
from pynenc.exceptions import RetryError
from pynenc.orchestrator.claims import explain_refusal
from pynenc.records import fingerprint
from pynenc.runner.execution import record
from pynenc.serializer import exception_to_payload, serialize_arguments
from tests.apps import hooked
from tests.unit.test_execution_steps import RUNNER, claimed

S = InvocationStatus


@pytest.fixture
def app() -> Iterator[Pynenc]:
    """``tests.apps.hooked`` on memory, its own app id."""
    app = hooked.app
    app.conf.app_id = f"retryargs-{uuid.uuid4().hex[:8]}"
    app.conf.broker_url = app.conf.state_backend_url = "memory://"
    app.conf.dev_mode_force_sync_tasks = False
    app.reset_components()
    yield app
    hooked.events_path(app.app_id).unlink(missing_ok=True)
    app.reset_components()


def _retry(app: Pynenc, delay: float | None, **kwargs: int) -> tuple[Outcome, dict[str, str]]:
    """The outcome of an attempt of ``add`` that retries with ``kwargs`` as its arguments."""
    new = serialize_arguments(app.serializer, hooked.add.task_id.key, kwargs)
    error = RetryError("again", delay=delay)
    error.retry_arguments = new
    payload = exception_to_payload(error)
    return Outcome(S.RETRY, None, payload, error, None, 0.1, delay or 0.0), new


def _published(app: Pynenc) -> list[Envelope]:
    [delivery] = app.broker.consumer(["default"], prefetch=1).get(1, 5)
    return list(delivery.envelopes)


def test_a_retry_stores_and_publishes_its_new_arguments(app: Pynenc) -> None:
    envelope = claimed(app, hooked.add.task_id.key, x=1, y=2)
    outcome, new = _retry(app, None, x=10, y=2)
    record(app, envelope, RUNNER, outcome)
    found = app.state_backend.get(envelope.invocation_id)
    assert found is not None
    assert (found.status, found.num_retries, found.arguments) == (S.RETRY, 1, new)
    [sent] = _published(app)
    assert (sent.invocation_id, sent.num_retries, sent.arguments) == (
        envelope.invocation_id,
        1,
        new,
    )
    reason = app.state_backend.history(envelope.invocation_id)[-1].reason or ""
    assert reason.startswith("retry 1: ") and reason.endswith("with new arguments (x)")
    # the message from before the retry is a duplicate now, not a forged one
    assert app.orchestrator.claim_each([envelope], "other") != [None]
    assert app.orchestrator.claim_each([sent], RUNNER) == [None]


def test_a_delayed_retry_keeps_them_for_the_scheduler(app: Pynenc) -> None:
    envelope = claimed(app, hooked.add.task_id.key, x=1, y=2)
    outcome, new = _retry(app, 0.05, x=1, y=20)
    record(app, envelope, RUNNER, outcome)
    found = app.state_backend.get(envelope.invocation_id)
    assert found is not None and found.status is S.SCHEDULED and found.arguments == new
    assert found.due is not None
    app.orchestrator.publish_due("scheduler", found.due + 0.01, 1.0)
    [sent] = _published(app)
    assert (sent.num_retries, sent.arguments) == (1, new)


def test_the_same_arguments_store_nothing_more(app: Pynenc) -> None:
    envelope = claimed(app, hooked.add.task_id.key, x=1, y=2)
    outcome, new = _retry(app, None, x=1, y=2)
    assert new == envelope.arguments
    record(app, envelope, RUNNER, outcome)
    reason = app.state_backend.history(envelope.invocation_id)[-1].reason or ""
    assert "new arguments" not in reason


def test_an_older_message_is_explained_as_a_duplicate() -> None:
    from pynenc.records import InvocationRecord

    old = Envelope("i", "mod.task", {"x": "1"}, "json", num_retries=0)
    stored = InvocationRecord("i", "mod.task", {"x": "2"}, S.RETRY, num_retries=1)
    refusal = explain_refusal(old, fingerprint(old.arguments), stored)
    assert not refusal.forged and "older than retry 1" in refusal.reason
    forged = Envelope("i", "mod.task", {"x": "3"}, "json", num_retries=1)
    assert explain_refusal(forged, fingerprint(forged.arguments), stored).forged


def test_a_call_can_carry_on_another_calls_retries(app: Pynenc) -> None:
    carried = hooked.add._call(hooked.add.args(1, 2), CallOptions(retries=2))
    record_ = app.state_backend.get(carried.invocation_id)
    assert record_ is not None and record_.num_retries == 2
    [sent] = _published(app)
    assert (sent.invocation_id, sent.num_retries) == (carried.invocation_id, 2)
    due = hooked.add._call(hooked.add.args(1, 2), CallOptions(delay=60, retries=1))
    record_ = app.state_backend.get(due.invocation_id)
    assert record_ is not None and (record_.status, record_.num_retries) == (S.SCHEDULED, 1)


@pytest.mark.parametrize("bad", [-1, "2", 1.5, True])
def test_retries_must_be_a_count(bad: object) -> None:
    with pytest.raises(ValueError, match="retries must be an integer >= 0"):
        CallOptions(retries=bad)  # type: ignore[arg-type]


def test_the_history_names_what_changed() -> None:
    from pynenc.orchestrator.scheduling import changed_arguments

    assert changed_arguments({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == (
        "with new arguments (b, c)"
    )
    many = {f"p{i:02}": "1" for i in range(12)}
    assert changed_arguments({}, many).endswith("p09 and 2 more)")


def test_recovery_sends_the_new_arguments(app: Pynenc) -> None:
    """A runner that dies running the retry: its invocation is published again from the
    stored record, with the retry's arguments."""
    envelope = claimed(app, hooked.add.task_id.key, x=1, y=2)
    outcome, new = _retry(app, None, x=3, y=4)
    record(app, envelope, RUNNER, outcome)
    [sent] = _published(app)
    assert app.orchestrator.claim_each([sent], RUNNER) == [None]
    running = app.state_backend.get(envelope.invocation_id)
    assert running is not None and running.status is S.RUNNING
    assert app.orchestrator.reroute(running, "recovery", "runner died", max_reroutes=3)
    [again] = _published(app)
    assert (again.invocation_id, again.num_retries, again.arguments) == (
        envelope.invocation_id,
        1,
        new,
    )
