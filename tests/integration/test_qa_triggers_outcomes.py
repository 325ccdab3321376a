"""QA of triggers: outcome triggers with a task's own options, and cycles. A runner process
(MultiThreadRunner) of ``tests/apps/qa_triggers.py`` on SQLite and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import Pynenc
from pynenc.records import InvocationStatus
from tests.apps import qa_triggers
from tests.integration.deployments import RunnerProcess, wait_until
from tests.integration.test_qa_triggers_handover import T0, deployment_for, evaluated, runner

AGAIN = "tests.apps.qa_triggers.again"


@pytest.fixture(params=["sqlite", "redis"])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pynenc]:
    deployment = deployment_for(request.param, tmp_path, request)
    app = deployment.configure(qa_triggers.app)
    app.purge()
    qa_triggers.set_clock(T0)
    process: RunnerProcess = runner(deployment, tmp_path, "runner", "MultiThreadRunner")
    try:
        wait_until(evaluated, 60, "the runner's first trigger pass")
        yield app
    finally:
        app.state_backend.put_value(qa_triggers.ARMED, "single", "go")
        assert process.stop() == 0, process.log_tail()


def _status(app: Pynenc, task: str) -> tuple[int, str | None]:
    found = next(s for s in app.trigger.status() if s.definition.task_key.endswith(f".{task}"))
    return found.fired, found.last_error


def _cancel_the_one_in_flight(app: Pynenc) -> bool:
    pending = [r for r in app.state_backend.recent(20, task_id=AGAIN) if not r.status.is_final]
    return any(app.invocation(r.invocation_id).cancel().cancelled for r in pending)


def test_a_task_triggering_itself_loops_until_an_invocation_is_cancelled(
    running: Pynenc,
) -> None:
    """``on_success`` of its own task: each success fires the next invocation, with
    nothing to stop it (docs/triggers.md, "Chains and cycles"); cancelling the invocation
    in flight ends the loop (a cancelled one does not succeed)."""
    app = running
    qa_triggers.again()
    wait_until(lambda: len(qa_triggers.runs("again")) >= 5, 60, "the loop to go round")
    wait_until(lambda: _cancel_the_one_in_flight(app), 60, "an invocation of the loop to cancel")
    ran = len(qa_triggers.runs("again"))
    app.trigger.emit_event("qa.order", {"order": 1})  # passes go by after the cancel
    wait_until(lambda: qa_triggers.runs("take_order"), 60, "a later trigger pass")
    statuses = [r.status for r in app.state_backend.recent(100, task_id=AGAIN)]
    assert statuses.count(InvocationStatus.CANCELLED) == 1
    assert all(s.is_final for s in statuses)
    assert len(qa_triggers.runs("again")) in (ran, ran + 1)  # the cancelled one may have run


def test_a_triggered_task_retried_fires_its_outcome_trigger_once(running: Pynenc) -> None:
    """The triggered ``flaky`` is retried (max_retries=2) as any invocation; the trigger
    watching it fires once, on the final failure, not on each failed attempt."""
    app = running
    app.trigger.emit_event("qa.flaky")
    wait_until(lambda: qa_triggers.runs("after_flaky"), 60, "the final failure's trigger")
    [flaky] = app.state_backend.recent(10, task_id="tests.apps.qa_triggers.flaky")
    assert flaky.status is InvocationStatus.FAILED
    assert app.state_backend.get(flaky.invocation_id).num_retries == 2  # type: ignore[union-attr]
    assert len(qa_triggers.runs("flaky")) == 3
    app.trigger.emit_event("qa.order", {"order": 1})  # passes go by after it
    wait_until(lambda: qa_triggers.runs("take_order"), 60, "a later trigger pass")
    [alert] = qa_triggers.runs("after_flaky")
    assert alert["trigger"]["invocation_id"] == flaky.invocation_id
    assert _status(app, "after_flaky") == (1, None)


def test_firings_folded_by_registration_control_run_once(running: Pynenc) -> None:
    """``registration_concurrency=TASK``: events arriving while the triggered invocation
    is pending are folded into it, as duplicate calls are; each counts as a firing."""
    app = running
    app.trigger.emit_event("qa.single", {"order": 1})
    wait_until(lambda: qa_triggers.runs("single"), 60, "the first to run")
    for order in (2, 3, 4):
        app.trigger.emit_event("qa.single", {"order": order})
    wait_until(lambda: _status(app, "single")[0] == 4, 60, "the pass to fire the others")
    app.state_backend.put_value(qa_triggers.ARMED, "single", "go")
    [record] = app.state_backend.recent(10, task_id="tests.apps.qa_triggers.single")
    app.orchestrator.wait_final(record.invocation_id, 60)
    assert [run["order"] for run in qa_triggers.runs("single")] == [1]
    assert _status(app, "single") == (4, None)
