"""What a runner does with a claimed invocation of a controlled task
(``pynenc.orchestrator.admission``), on the memory backend without a runner: hold back,
fail, release and wake, and the races between them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.orchestrator import admission, concurrency
from pynenc.orchestrator.cancellation import cancel
from pynenc.orchestrator.overrun import record_overrun
from pynenc.task import Task
from tests.apps import running_limits as tasks

S = InvocationStatus
RUNNER = "runner-a"


@pytest.fixture
def app() -> Iterator[Pynenc]:
    app = tasks.app
    app.reset_components()
    app.conf.broker_url = app.conf.state_backend_url = "memory://"
    app.conf.dev_mode_force_sync_tasks = False
    app.conf.runner.concurrency_recheck = 30.0
    app.purge()
    yield app
    app.purge()
    app.reset_components()


def _claimed(app: Pynenc, task: Task[Any, Any], *args: Any) -> Envelope:
    """An invocation of ``task`` registered and claimed by ``RUNNER`` (not admitted yet)."""
    invocation = task(*args)
    envelope = app.orchestrator.envelope_for(app.orchestrator.get_record(invocation.invocation_id))
    assert app.orchestrator.claim_each([envelope], RUNNER) == [None]
    return envelope


def _admit(app: Pynenc, task: Task[Any, Any], envelope: Envelope) -> bool:
    assert task.start_policy is not None
    return admission.admit_claimed(app.orchestrator, envelope, task.start_policy, RUNNER)


def _status(app: Pynenc, envelope: Envelope) -> S:
    return app.orchestrator.get_record(envelope.invocation_id).status


def test_a_waiter_is_held_back_and_a_release_publishes_it(app: Pynenc) -> None:
    task = tasks.exclusive
    holder, waiter = _claimed(app, task, "s", "h"), _claimed(app, task, "s", "w")
    assert _admit(app, task, holder)
    before = time.time()
    assert not _admit(app, task, waiter)
    record = app.orchestrator.get_record(waiter.invocation_id)
    assert record.status is S.SCHEDULED and record.owner is None and record.num_retries == 0
    assert record.due is not None and record.due >= before + 30.0  # the recheck, no sooner
    assert task.start_policy is not None
    admission.release(app.orchestrator, task.start_policy, holder.invocation_id, {}, RUNNER)
    # the holder's arguments make the slot key: TASK scope, any arguments
    woken = app.orchestrator.get_record(waiter.invocation_id)
    assert woken.status is S.REGISTERED
    assert (app.state_backend.history(waiter.invocation_id)[-1].reason or "").startswith(
        "woken: a running slot of 'tests.apps.running_limits.exclusive' was released by "
    )


def test_a_release_racing_the_hold_back_still_wakes_the_waiter(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder finishes between the waiter's refusal and its move to SCHEDULED: the
    release hands the waiter out while it is still RUNNING (its wake-up cannot apply)."""
    task = tasks.exclusive
    policy = task.start_policy
    assert policy is not None
    holder, waiter = _claimed(app, task, "s", "h"), _claimed(app, task, "s", "w")
    assert _admit(app, task, holder)
    real_admit = concurrency.admit

    def admit_then_release(*args: Any) -> concurrency.Admission:
        decision = real_admit(*args)
        admission.release(app.orchestrator, policy, holder.invocation_id, {}, RUNNER)
        return decision

    monkeypatch.setattr(concurrency, "admit", admit_then_release)
    assert not _admit(app, task, waiter)
    # without asking again once SCHEDULED, it would wait for its recheck (30 s)
    assert _status(app, waiter) is S.REGISTERED
    assert app.state_backend.slot_holders("tests.apps.running_limits.exclusive") == [
        waiter.invocation_id
    ]


def test_the_hold_back_ends_at_the_expiry(app: Pynenc) -> None:
    task = tasks.exclusive
    holder = _claimed(app, task, "s", "h")
    assert _admit(app, task, holder)
    invocation = task.with_options(expires=5)("s", "w")  # in 5 s, before the recheck
    record = app.orchestrator.get_record(invocation.invocation_id)
    envelope = app.orchestrator.envelope_for(record)
    assert app.orchestrator.claim_each([envelope], RUNNER) == [None]
    assert not _admit(app, task, envelope)
    held = app.orchestrator.get_record(envelope.invocation_id)
    assert held.due == pytest.approx(record.expires)


def test_no_wait_fails_without_running(app: Pynenc) -> None:
    task = tasks.no_wait
    holder, other = _claimed(app, task, "s", "g", "h"), _claimed(app, task, "s", "g", "o")
    assert _admit(app, task, holder)
    assert not _admit(app, task, other)
    record = app.orchestrator.get_record(other.invocation_id)
    assert record.status is S.FAILED and record.error is not None
    assert record.error["type"].endswith("ConcurrencyControlledError")
    assert "reroute_on_concurrency_control=False" in record.error["message"]


def test_a_rate_wait_is_due_at_its_reserved_start(app: Pynenc) -> None:
    task = tasks.rated
    first, second = _claimed(app, task, "s", "1"), _claimed(app, task, "s", "2")
    assert _admit(app, task, first)
    before = time.time()
    assert not _admit(app, task, second)
    held = app.orchestrator.get_record(second.invocation_id)
    assert held.status is S.SCHEDULED and held.due is not None
    assert before < held.due <= before + 0.1 + 0.05  # one interval of 10/s
    reason = app.state_backend.history(second.invocation_id)[-1].reason or ""
    assert reason.startswith("held back: rate_limit=10/s: start reserved in ")


def test_an_admission_that_fails_holds_back_until_the_recheck(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = tasks.exclusive
    envelope = _claimed(app, task, "s", "h")

    def broken(*args: Any) -> concurrency.Admission:
        raise ConnectionError("backend away")

    monkeypatch.setattr(concurrency, "admit", broken)
    assert not _admit(app, task, envelope)  # never started unchecked
    assert _status(app, envelope) is S.SCHEDULED
    reason = app.state_backend.history(envelope.invocation_id)[-1].reason or ""
    assert "its admission failed: ConnectionError('backend away')" in reason


def test_recovery_gives_the_slot_back_before_publishing_again(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerouted holder published again may be claimed and admitted at once, by any
    runner: the slot of its old attempt must be gone by then, or giving it back would take
    the new attempt's slot away (and let a waiter run beside it)."""
    task = tasks.exclusive
    holder, waiter = _claimed(app, task, "s", "h"), _claimed(app, task, "s", "w")
    assert _admit(app, task, holder)
    assert not _admit(app, task, waiter)
    publish = app.broker.publish
    admitted: list[bool] = []

    def publish_and_admit_at_once(envelopes: list[Envelope]) -> Any:
        sent = publish(envelopes)
        for envelope in envelopes:
            if envelope.invocation_id == holder.invocation_id:  # another runner is quick
                assert app.orchestrator.claim_each([envelope], "runner-b") == [None]
                admitted.append(_admit(app, task, envelope))
        return sent

    monkeypatch.setattr(app.broker, "publish", publish_and_admit_at_once)
    record = app.orchestrator.get_record(holder.invocation_id)
    assert app.orchestrator.reroute(record, "recovery", "runner-a is dead", 3)
    assert admitted == [True]  # the slot was free: the old attempt's was given back first
    assert _status(app, holder) is S.RUNNING
    assert app.state_backend.slot_holders("tests.apps.running_limits.exclusive") == [
        holder.invocation_id
    ]
    assert _status(app, waiter) is S.REGISTERED  # woken by the release; refused when claimed


def test_a_start_due_in_a_few_ms_is_waited_for_in_place(app: Pynenc) -> None:
    """At 50/s the next start is at most 20 ms away: the runner waits for it where it
    claimed the invocation instead of sending it round the scheduled index."""
    task = tasks.fast_rated
    first, second = _claimed(app, task, "s", "1"), _claimed(app, task, "s", "2")
    assert _admit(app, task, first)
    before = time.monotonic()
    assert _admit(app, task, second)
    assert 0.0 < time.monotonic() - before < admission.SHORT_WAIT * admission.SHORT_WAIT_TRIES
    assert [e.status for e in app.state_backend.history(second.invocation_id)] == [
        S.REGISTERED,
        S.RUNNING,
    ]


def test_a_release_passes_over_a_waiter_that_expired(app: Pynenc) -> None:
    task = tasks.exclusive
    policy = task.start_policy
    assert policy is not None
    holder = _claimed(app, task, "s", "h")
    assert _admit(app, task, holder)
    invocation = task.with_options(expires=0.2)("s", "soon")
    soon = app.orchestrator.envelope_for(app.orchestrator.get_record(invocation.invocation_id))
    assert app.orchestrator.claim_each([soon], RUNNER) == [None]
    assert not _admit(app, task, soon)  # first in line
    later = _claimed(app, task, "s", "later")
    assert not _admit(app, task, later)
    expires = soon.expires
    assert expires is not None
    while time.time() <= expires:  # the scheduler is not running: it stays in the line
        time.sleep(0.02)
    admission.release(app.orchestrator, policy, holder.invocation_id, {}, RUNNER)
    assert _status(app, soon) is S.EXPIRED
    assert _status(app, later) is S.REGISTERED  # not left waiting for its recheck


def test_a_cancelled_holder_gives_its_slot_to_the_next_waiter(app: Pynenc) -> None:
    task = tasks.exclusive
    holder, waiter = _claimed(app, task, "s", "h"), _claimed(app, task, "s", "w")
    assert _admit(app, task, holder)
    assert not _admit(app, task, waiter)
    assert cancel(app, holder.invocation_id).cancelled
    assert _status(app, holder) is S.CANCELLED
    assert _status(app, waiter) is S.REGISTERED


def test_a_time_limit_overrun_gives_the_slot_back(app: Pynenc) -> None:
    task = tasks.exclusive
    holder, waiter = _claimed(app, task, "s", "h"), _claimed(app, task, "s", "w")
    assert _admit(app, task, holder)
    assert not _admit(app, task, waiter)
    assert record_overrun(app, holder, RUNNER, 1.0, 1.5, "killed") is S.FAILED
    assert _status(app, waiter) is S.REGISTERED


def test_with_more_claimed_work_behind_it_a_short_wait_is_held_back(app: Pynenc) -> None:
    task = tasks.fast_rated
    policy = task.start_policy
    assert policy is not None
    first, second = _claimed(app, task, "s", "1"), _claimed(app, task, "s", "2")
    assert _admit(app, task, first)
    orchestrator = app.orchestrator
    assert not admission.admit_claimed(orchestrator, second, policy, RUNNER, wait_here=False)
    assert _status(app, second) is S.SCHEDULED  # any runner free then takes it
