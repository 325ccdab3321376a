"""The execution steps (prepare → run → record) and the hooks around them, in process.

Real in-process components (memory broker and state); the steps are called directly on
claimed invocations, the way a runner's worker thread calls ``execute``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import Hooks, InvocationStatus, Outcome, PublishVetoError, Pynenc, Task
from pynenc.broker.envelope import Envelope
from pynenc.context import current_invocation
from pynenc.exceptions import TaskNotFoundError
from pynenc.identifiers import new_invocation_id
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.records import InvocationRecord
from pynenc.runner.execution import execute, failure, prepare, record, run
from pynenc.serializer import serialize_arguments
from tests.apps import core, hooked

S = InvocationStatus
RUNNER = "runner-under-test"


@pytest.fixture
def app() -> Iterator[Pynenc]:
    """``tests.apps.hooked`` (a handler on every event) on memory, its own app id."""
    app = hooked.app
    app.conf.app_id = f"hooked-{uuid.uuid4().hex[:8]}"
    app.conf.broker_url = app.conf.state_backend_url = "memory://"
    app.conf.dev_mode_force_sync_tasks = False
    app.reset_components()
    yield app
    hooked.events_path(app.app_id).unlink(missing_ok=True)
    app.conf.dev_mode_force_sync_tasks = False
    app.reset_components()


def claimed(app: Pynenc, task_key: str, retries: int = 0, **kwargs: Any) -> Envelope:
    """A registered invocation of ``task_key``, claimed by ``RUNNER``: ready to execute."""
    arguments = serialize_arguments(app.serializer, task_key, kwargs)
    invocation_id = new_invocation_id()
    record_ = InvocationRecord(invocation_id, task_key, arguments, num_retries=retries)
    app.state_backend.register([record_], time.time())
    envelope = Envelope(
        invocation_id, task_key, arguments, app.conf.serializer, num_retries=retries
    )
    assert app.orchestrator.claim_each([envelope], RUNNER) == [None]
    return envelope


def events(app: Pynenc, event: str) -> list[dict[str, Any]]:
    return [e for e in hooked.read_events(app.app_id) if e["event"] == event]


def stored(app: Pynenc, envelope: Envelope) -> InvocationRecord:
    found = app.state_backend.get(envelope.invocation_id)
    assert found is not None
    return found


# -- the steps one by one ------------------------------------------------------------------


def test_prepare_builds_the_invocation_of_this_attempt(app: Pynenc) -> None:
    envelope = claimed(app, hooked.add.task_id.key, retries=1, x=1, y=2)
    invocation = prepare(app, envelope)
    assert isinstance(invocation, DistributedInvocation)
    assert invocation.task is hooked.add
    assert invocation.arguments.kwargs == {"x": 1, "y": 2}
    assert invocation.num_retries == 1  # from the message: no backend read


def test_a_failure_to_prepare_is_a_failed_outcome_that_record_stores(app: Pynenc) -> None:
    envelope = claimed(app, "tests.apps.undeclared_module.task")
    outcome = prepare(app, envelope)
    assert isinstance(outcome, Outcome)
    assert outcome.status is S.FAILED
    assert isinstance(outcome.exception, TaskNotFoundError)
    assert outcome.error is not None and outcome.error["type"].endswith("TaskNotFoundError")
    record(app, envelope, RUNNER, outcome)
    assert stored(app, envelope).status is S.FAILED


def test_run_returns_the_outcome_and_records_nothing(app: Pynenc) -> None:
    envelope = claimed(app, hooked.add.task_id.key, x=1, y=2)
    invocation = prepare(app, envelope)
    assert isinstance(invocation, DistributedInvocation)
    outcome = run(invocation, envelope)
    assert outcome.status is S.SUCCESS
    assert (outcome.value, outcome.result, outcome.error, outcome.exception) == (3, "3", None, None)
    assert outcome.duration >= 0
    assert stored(app, envelope).status is S.RUNNING  # run() records nothing
    record(app, envelope, RUNNER, outcome)
    found = stored(app, envelope)
    assert (found.status, found.result) == (S.SUCCESS, "3")


def test_the_retry_decision(app: Pynenc, tmp_path: Path) -> None:
    task = hooked.flaky
    first = claimed(app, task.task_id.key, marker=str(tmp_path / "m"), succeed_on=9)
    last = claimed(app, task.task_id.key, retries=2, marker=str(tmp_path / "m"), succeed_on=9)
    error = hooked.Flaky("again")
    assert failure(task, first, error, 0.5).status is S.RETRY  # retry_for, 0 < max_retries
    assert failure(task, last, error, 0.5).status is S.FAILED  # max_retries=2 reached
    assert failure(task, first, ValueError("other"), 0.5).status is S.FAILED  # not retry_for
    assert failure(task, first, SystemExit(1), 0.5).status is S.FAILED  # never retried
    outcome = failure(task, first, error, 0.5)
    assert outcome.exception is error and outcome.duration == 0.5
    assert outcome.error is not None and outcome.error["message"] == "again"


def test_record_of_a_retry_publishes_the_next_attempt(app: Pynenc, tmp_path: Path) -> None:
    envelope = claimed(app, hooked.flaky.task_id.key, marker=str(tmp_path / "m"), succeed_on=2)
    invocation = prepare(app, envelope)
    assert isinstance(invocation, DistributedInvocation)
    outcome = run(invocation, envelope)
    assert outcome.status is S.RETRY and isinstance(outcome.exception, hooked.Flaky)
    assert stored(app, envelope).status is S.RUNNING
    record(app, envelope, RUNNER, outcome)
    found = stored(app, envelope)
    assert (found.status, found.num_retries) == (S.RETRY, 1)
    [delivery] = app.broker.consumer(["default"], prefetch=1).get(1, 5)
    assert [(e.invocation_id, e.num_retries) for e in delivery.envelopes] == [
        (envelope.invocation_id, 1)
    ]


# -- execute: the composition, with the hooks ----------------------------------------------------


def test_execute_fires_run_start_with_the_invocation_current_then_run_end(app: Pynenc) -> None:
    envelope = claimed(app, hooked.add.task_id.key, x=2, y=3)
    execute(app, envelope, RUNNER)
    [start] = events(app, "run_start")
    [end] = events(app, "run_end")
    assert start["id"] == end["id"] == envelope.invocation_id
    assert start["current"] and end["current"]  # task.invocation set in both handlers
    assert start["kwargs"] == {"x": 2, "y": 3} and start["retries"] == 0
    assert (end["status"], end["value"], end["result"]) == ("SUCCESS", 5, "5")
    assert current_invocation.get() is None  # reset afterwards
    assert stored(app, envelope).status is S.SUCCESS


def test_run_end_runs_before_the_outcome_is_recorded(app: Pynenc) -> None:
    """Once a waiter can see the result (or the next attempt can start), the run_end
    handlers are done."""
    seen: list[S] = []

    def read_back(invocation: Any, outcome: Outcome) -> None:
        seen.append(stored(app, envelope).status)

    app.hooks.connect("run_end", read_back)
    try:
        envelope = claimed(app, hooked.add.task_id.key, x=2, y=3)
        execute(app, envelope, RUNNER)
    finally:
        app.hooks.disconnect("run_end", read_back)
    assert seen == [S.RUNNING]
    assert stored(app, envelope).status is S.SUCCESS


def test_a_run_end_handler_exiting_still_leaves_the_outcome_recorded(app: Pynenc) -> None:
    def exit_now(invocation: Any, outcome: Outcome) -> None:
        raise SystemExit(4)  # not an Exception: not swallowed by the registry

    app.hooks.connect("run_end", exit_now)
    try:
        envelope = claimed(app, hooked.add.task_id.key, x=2, y=3)
        with pytest.raises(SystemExit):
            execute(app, envelope, RUNNER)
    finally:
        app.hooks.disconnect("run_end", exit_now)
    found = stored(app, envelope)
    assert (found.status, found.result) == (S.SUCCESS, "5")
    assert current_invocation.get() is None


def test_a_run_start_handler_exiting_fails_the_attempt_instead_of_leaving_it_running(
    app: Pynenc,
) -> None:
    def exit_now(invocation: Any) -> None:
        raise SystemExit(5)  # not swallowed by the registry: the runner would log it and
        # go on, the invocation RUNNING under a live runner forever

    app.hooks.connect("run_start", exit_now)
    try:
        envelope = claimed(app, hooked.add.task_id.key, x=2, y=3)
        with pytest.raises(SystemExit):
            execute(app, envelope, RUNNER)
    finally:
        app.hooks.disconnect("run_start", exit_now)
    found = stored(app, envelope)
    assert found.status is S.FAILED
    assert found.error is not None and found.error["type"] == "builtins.SystemExit"
    assert events(app, "run_end") == []  # the attempt never ran
    assert current_invocation.get() is None


def test_a_failed_preparation_fires_no_run_hook(app: Pynenc) -> None:
    envelope = claimed(app, "tests.apps.undeclared_module.task")
    execute(app, envelope, RUNNER)
    assert stored(app, envelope).status is S.FAILED
    assert events(app, "run_start") == events(app, "run_end") == []


def test_a_retry_and_a_failure_reach_run_end(app: Pynenc, tmp_path: Path) -> None:
    marker = str(tmp_path / "m")
    retried = claimed(app, hooked.flaky.task_id.key, marker=marker, succeed_on=5)
    failed = claimed(app, hooked.fail.task_id.key, message="boom")
    execute(app, retried, RUNNER)
    execute(app, failed, RUNNER)
    ends = {e["id"]: e for e in events(app, "run_end")}
    retry = ends[retried.invocation_id]
    assert (retry["status"], retry["exception"], retry["retries"]) == ("RETRY", "Flaky", 0)
    assert retry["error_type"] == "tests.apps.hooked.Flaky"
    assert (ends[failed.invocation_id]["status"], ends[failed.invocation_id]["exception"]) == (
        "FAILED",
        "ValueError",
    )


def test_system_exit_is_recorded_reported_and_raised_again(app: Pynenc) -> None:
    envelope = claimed(app, hooked.exits.task_id.key, code=3)
    with pytest.raises(SystemExit) as info:
        execute(app, envelope, RUNNER)
    assert info.value.code == 3
    found = stored(app, envelope)
    assert found.status is S.FAILED
    assert found.error is not None and found.error["type"] == "builtins.SystemExit"
    [end] = events(app, "run_end")
    assert (end["status"], end["exception"]) == ("FAILED", "SystemExit")
    assert current_invocation.get() is None


def test_a_failing_hook_is_logged_and_the_run_goes_on(
    app: Pynenc, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_start(invocation: Any) -> None:
        raise RuntimeError("start hook bug")

    def broken_end(invocation: Any, outcome: Outcome) -> None:
        raise RuntimeError("end hook bug")

    app.hooks.connect("run_start", broken_start)
    app.hooks.connect("run_end", broken_end)
    try:
        envelope = claimed(app, hooked.add.task_id.key, x=1, y=1)
        with caplog.at_level(logging.ERROR, logger="pynenc.hooks"):
            execute(app, envelope, RUNNER)
    finally:
        app.hooks.disconnect("run_start", broken_start)
        app.hooks.disconnect("run_end", broken_end)
    assert stored(app, envelope).status is S.SUCCESS
    messages = [r.getMessage() for r in caplog.records]
    assert any("broken_start on run_start raised" in m for m in messages), messages
    assert any("broken_end on run_end raised" in m for m in messages), messages
    assert len(events(app, "run_end")) == 1  # the other handlers still ran


# -- publish -----------------------------------------------------------------------------------


def test_publish_hooks_see_the_invocations_before_and_after(app: Pynenc) -> None:
    invocations = hooked.add.parallelize([(1, 2), (3, 4)]).invocations
    [before] = events(app, "before_publish")
    [after] = events(app, "after_publish")
    ids = [i.invocation_id for i in invocations]
    assert [i["id"] for i in before["invocations"]] == after["ids"] == ids
    assert [i["kwargs"] for i in before["invocations"]] == [{"x": 1, "y": 2}, {"x": 3, "y": 4}]
    assert {i["task"] for i in before["invocations"]} == {hooked.add.task_id.key}


def test_a_chosen_id_seen_before_fires_no_after_publish(app: Pynenc) -> None:
    first = hooked.add.with_options(invocation_id="hooked-once")(1, 2)
    again = hooked.add.with_options(invocation_id="hooked-once")(1, 2)
    assert again.invocation_id == first.invocation_id
    # both calls were shown before publishing; only the first was published
    assert len(events(app, "before_publish")) == 2
    assert [e["ids"] for e in events(app, "after_publish")] == [["hooked-once"]]


def test_a_vetoed_call_is_neither_registered_nor_sent(app: Pynenc) -> None:
    with pytest.raises(PublishVetoError, match="refused by a hook"):
        hooked.refused()
    assert app.state_backend.find() == []
    assert app.broker.consumer(["default"], prefetch=1).get(1, 0.2) == []
    assert events(app, "after_publish") == []
    assert len(events(app, "before_publish")) == 1  # the handler before the veto ran


def test_a_veto_mid_parallelize_says_what_was_published_before(app: Pynenc) -> None:
    def refuse_the_second_batch(invocations: Any) -> None:
        if any(i.arguments.kwargs["x"] == 120 for i in invocations):
            raise PublishVetoError("second batch refused")

    app.hooks.connect("before_publish", refuse_the_second_batch)
    try:
        with pytest.raises(PublishVetoError) as info:
            hooked.add.parallelize([(i, 0) for i in range(150)])  # batches of 100
    finally:
        app.hooks.disconnect("before_publish", refuse_the_second_batch)
    [note] = info.value.__notes__
    assert "100 invocations of this parallelize were published before" in note
    assert "the others are never registered" in note
    assert len(app.state_backend.find()) == 100


# -- nothing registered: nothing done -------------------------------------------------------


def test_with_no_handler_the_hooks_are_never_emitted(
    core_app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(self: Hooks, event: str, *args: Any) -> None:
        raise AssertionError(f"emit({event!r}) called with no handler registered")

    monkeypatch.setattr(Hooks, "emit", must_not_run)
    task: Task[Any, Any] = core.add
    invocation = task(1, 2)  # route: no publish hook
    [delivery] = core_app.broker.consumer(["default"], prefetch=1).get(1, 5)
    [envelope] = delivery.envelopes
    assert core_app.orchestrator.claim_each([envelope], RUNNER) == [None]
    execute(core_app, envelope, RUNNER)  # no run hook
    assert invocation.result == 3
    core_app.conf.dev_mode_force_sync_tasks = True
    assert core.add(2, 2).result == 4  # sync mode: no run hook
