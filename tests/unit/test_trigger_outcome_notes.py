"""Every way an invocation of a watched task ends fires its outcome triggers, not only a
runner recording what the body returned or raised: a cancel, an expiry (at the claim, at
publication of a delayed call, instead of a delayed retry), and a failure recorded for it
(rerouted too often). Memory backend, the orchestrator's own steps, no runner."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import ConcurrencyControlType, InvocationStatus, Pynenc
from pynenc.orchestrator import admission
from pynenc.orchestrator.scheduling import schedule_retry
from pynenc.trigger import TriggerBuilder, TriggerContext
from pynenc.trigger.evaluation import OUTCOMES
from tests.unit.trigger_fixtures import on_memory

S = InvocationStatus
app = Pynenc(app_id="tests-trigger-outcome-notes")
RUNNER = "runner-a"


@app.task
def watched(value: int) -> int:
    return value


@app.task(running_concurrency=ConcurrencyControlType.TASK, reroute_on_concurrency_control=False)
def one_at_a_time(value: int) -> int:
    return value


def status_args(context: TriggerContext) -> dict[str, Any]:
    assert context.status is not None
    return {"status": context.status.value, "source": context.invocation_id}


@app.task(
    triggers=[
        TriggerBuilder()
        .on_status(watched, [S.CANCELLED, S.EXPIRED, S.FAILED])
        .with_arguments(status_args),
        TriggerBuilder().on_status(one_at_a_time, [S.FAILED]).with_arguments(status_args),
    ]
)
def ended(status: str, source: str) -> None:
    return None


@pytest.fixture(autouse=True)
def memory_app() -> Iterator[Pynenc]:
    with on_memory(app) as fresh:
        yield fresh


def _fired() -> dict[str, str]:
    """What ``ended`` was fired for after a pass: the ended invocation -> its status."""
    app.trigger.run_pass()
    backend = app.state_backend
    found = {}
    for record in backend.get_many(backend.find(task_id=ended.task_id.key)):
        assert record is not None
        args = {k: app.serializer.loads(v) for k, v in record.arguments.items()}
        found[args["source"]] = args["status"]
    return found


def _claimed(value: int, task: Any = watched, **options: Any) -> Any:
    invocation = task.with_options(**options)(value)
    record = app.orchestrator.get_record(invocation.invocation_id)
    envelope = app.orchestrator.envelope_for(record)
    assert app.orchestrator.claim_each([envelope], RUNNER) == [None]
    return envelope


def test_a_cancel_before_it_runs() -> None:
    invocation = watched.with_options(delay=3600)(1)
    assert invocation.cancel()
    assert _fired() == {invocation.invocation_id: "cancelled"}


def test_an_expiry_found_by_the_claim() -> None:
    invocation = watched.with_options(expires=0.05)(1)
    record = app.orchestrator.get_record(invocation.invocation_id)
    envelope = app.orchestrator.envelope_for(record)
    deadline = time.time() + 0.05
    while time.time() <= deadline:  # the wall clock passes the expiry: nothing to wait on
        time.sleep(0.01)
    [refusal] = app.orchestrator.claim_each([envelope], RUNNER)
    assert refusal is not None and refusal.status is S.EXPIRED
    assert _fired() == {invocation.invocation_id: "expired"}


def test_an_expiry_found_when_a_delayed_call_falls_due() -> None:
    invocation = watched.with_options(delay=1, expires=2)(1)
    app.orchestrator.publish_due("scheduler", time.time() + 10, 0.2)  # the scheduler, late
    assert invocation.status is S.EXPIRED
    assert _fired() == {invocation.invocation_id: "expired"}


def test_a_delayed_retry_that_would_fall_due_after_the_expiry() -> None:
    envelope = _claimed(1, expires=60)
    error = {"type": "ValueError", "message": "again"}
    assert schedule_retry(app.orchestrator, envelope, RUNNER, error, "retry 1", delay=3600)
    assert _fired() == {envelope.invocation_id: "expired"}


def test_a_failure_recorded_when_it_lost_its_runner_too_often() -> None:
    envelope = _claimed(1)
    record = app.orchestrator.get_record(envelope.invocation_id)
    moved = app.orchestrator.reroute_many([(record, "runner gone")], "recovery", max_reroutes=0)
    assert moved == 1 and app.orchestrator.get_record(envelope.invocation_id).status is S.FAILED
    assert _fired() == {envelope.invocation_id: "failed"}


def test_an_unwatched_task_notes_nothing() -> None:
    invocation = ended.with_options(delay=3600)("x", "y")
    assert invocation.cancel()
    assert app.state_backend.read_log("trigger-outcomes", 0, 10) == []


def test_a_failure_for_a_concurrency_limit_that_does_not_wait() -> None:
    policy = one_at_a_time.start_policy
    assert policy is not None
    first, second = _claimed(1, one_at_a_time), _claimed(2, one_at_a_time)
    assert admission.admit_claimed(app.orchestrator, first, policy, RUNNER)
    assert not admission.admit_claimed(app.orchestrator, second, policy, RUNNER)
    assert app.orchestrator.get_record(second.invocation_id).status is S.FAILED
    assert _fired() == {second.invocation_id: "failed"}


def test_outcome_notes_dropped_before_a_pass_read_them_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.trigger.run_pass()
    first = watched(1)
    app.orchestrator.cancel(first.invocation_id)
    assert _fired() == {first.invocation_id: "cancelled"}  # the cursor is stored
    for number in range(4):  # noted, and pushed out by a log keeping 2 (as 100,000 would)
        app.state_backend.append_log(OUTCOMES, json.dumps([f"gone-{number}", "x"]), 2)
    with caplog.at_level("WARNING", logger="pynenc.trigger"):
        app.trigger.run_pass()
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].startswith("2 outcome notes were dropped")
