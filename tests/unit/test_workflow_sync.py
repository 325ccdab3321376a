"""Workflows in dev sync mode (``app.conf.dev_mode_force_sync_tasks``): bodies run inline.

A pause returns to the caller at once (``.result`` raises ``WorkflowPausedError``) and
``app.workflows.resume`` runs the body again inline, replaying its recorded steps;
continue-as-new loops in the caller. The mistakes a body can make give their errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import (
    InvocationCancelledError,
    NonDeterministicWorkflowError,
    NotInWorkflowError,
    WorkflowNotPausedError,
    WorkflowPausedError,
    WorkflowStateError,
)
from pynenc.testing import in_memory, sync_mode
from pynenc.workflow.journal import read_journal
from tests.apps import wf_pause

S = InvocationStatus


@pytest.fixture
def app() -> Iterator[Pynenc]:
    app = wf_pause.app
    with in_memory(app), sync_mode(app):
        yield app


def _steps(app: Pynenc, invocation_id: str, run: int = 1) -> list[dict[str, Any]]:
    """The journal of a dev-sync-mode workflow run (kept in this process)."""
    return read_journal(app.workflows.sync_backend, invocation_id, run)


def _wf_values(app: Pynenc, invocation_id: str) -> int:
    store: Any = app.workflows.sync_backend._store  # type: ignore[attr-defined]
    return sum(
        1 for (ns, key) in store.values if ns.startswith("wf-") and key.startswith(invocation_id)
    )


def test_the_seed_example_runs_inline(app: Pynenc) -> None:
    plain = wf_pause.main_wf_task({"approval": False})
    drawn = _steps(app, plain.invocation_id)[1]["v"]
    assert plain.result == f"Completed via path {'A' if drawn > 0.5 else 'B'}"

    asked = wf_pause.main_wf_task({"approval": True})
    assert asked.status is S.PAUSED
    with pytest.raises(WorkflowPausedError, match=r"PAUSED \(Waiting for approval\)"):
        asked.result
    assert not app.state_backend.find()  # nothing of dev sync mode reaches the backend
    drawn = _steps(app, asked.invocation_id)[1]["v"]
    path = "A" if drawn > 0.5 else "B"

    resumed = app.workflows.resume(asked.invocation_id)
    assert resumed is asked and asked.status is S.SUCCESS
    assert asked.result == f"Completed via path {path}"
    steps = _steps(app, asked.invocation_id)
    assert steps[1]["v"] == drawn and steps[3]["resumed"] is True
    statuses = [e.status for e in asked.history]
    assert statuses == [S.REGISTERED, S.RUNNING, S.PAUSED, S.REGISTERED, S.RUNNING, S.SUCCESS]


def test_pause_returns_the_resume_value(app: Pynenc) -> None:
    invocation = wf_pause.approve(5)
    ticket = _steps(app, invocation.invocation_id)[0]["v"]
    with pytest.raises(WorkflowStateError, match="the resume value must be JSON"):
        app.workflows.resume(invocation.invocation_id, {1, 2})
    assert invocation.status is S.PAUSED  # a bad value resumes nothing
    app.workflows.resume(invocation.invocation_id, ["yes", 1])
    assert invocation.result == {"amount": 5, "decision": ["yes", 1], "ticket": ticket}


def test_resume_of_a_workflow_not_paused_says_so(app: Pynenc) -> None:
    invocation = wf_pause.approve(6)
    app.workflows.resume(invocation.invocation_id, "once")
    with pytest.raises(WorkflowNotPausedError, match=invocation.invocation_id):
        app.workflows.resume(invocation.invocation_id, "twice")
    finished = wf_pause.main_wf_task({})
    with pytest.raises(WorkflowNotPausedError, match=finished.invocation_id):
        app.workflows.resume(finished.invocation_id)
    assert invocation.result["decision"] == "once"


def test_cancel_a_paused_workflow(app: Pynenc) -> None:
    invocation = wf_pause.approve(7)
    answer = app.workflows.cancel(invocation.invocation_id, reason="not approved")
    assert answer and answer.previous is S.PAUSED and invocation.status is S.CANCELLED
    with pytest.raises(InvocationCancelledError, match="not approved"):
        invocation.result
    with pytest.raises(WorkflowNotPausedError):
        app.workflows.resume(invocation.invocation_id)


def test_continue_as_new_loops_inline_and_keeps_nothing_of_earlier_runs(app: Pynenc) -> None:
    short = wf_pause.countdown(10)
    long = wf_pause.countdown(1000)
    assert long.result == {
        "leaks": 0,
        "runs_seen": 1001,
        "run": 1001,
        "workflow_id": long.invocation_id,
        "invocation_id": long.invocation_id,
        "workflow_type": "tests.apps.wf_pause.countdown",
    }
    assert short.result["run"] == 11
    assert _wf_values(app, long.invocation_id) == _wf_values(app, short.invocation_id)


def test_a_pause_after_continues_resumes_the_last_run(app: Pynenc) -> None:
    invocation = wf_pause.continue_then_pause(3)
    assert invocation.status is S.PAUSED
    drawn = _steps(app, invocation.invocation_id, run=4)[0]["v"]
    app.workflows.resume(invocation.invocation_id, "go")
    assert invocation.result == {"run": 4, "drawn": drawn, "decision": "go", "state": None}


def test_each_run_pauses_and_gets_its_own_resume_value(app: Pynenc) -> None:
    invocation = wf_pause.pause_each_run(1, 3)
    for n in range(1, 4):
        assert invocation.status is S.PAUSED
        app.workflows.resume(invocation.invocation_id, f"value {n}")
    assert invocation.result == [3, ["value 1", "value 2", "value 3"]]


def test_wf_outside_a_task_is_an_error(app: Pynenc) -> None:
    with pytest.raises(NotInWorkflowError, match=r"only available while .*countdown runs"):
        wf_pause.countdown.wf.get_state()
    app.conf.dev_mode_force_sync_tasks = False  # and outside dev sync mode
    with pytest.raises(NotInWorkflowError, match=r"use app\.workflows"):
        wf_pause.main_wf_task.wf.random()


def test_a_state_that_is_not_json_is_an_error(app: Pynenc) -> None:
    with pytest.raises(WorkflowStateError, match=r"wf.save_state\(state\): the state must be JSON"):
        wf_pause.save_a_set().result


def test_a_nondeterministic_replay_names_the_step(app: Pynenc, tmp_path: Path) -> None:
    invocation = wf_pause.fickle(str(tmp_path / "marker"))
    assert invocation.status is S.PAUSED
    app.workflows.resume(invocation.invocation_id)
    with pytest.raises(NonDeterministicWorkflowError) as raised:
        invocation.result
    message = str(raised.value)
    assert "step 1 was wf.random()" in message and "now it is wf.uuid()" in message
    assert invocation.invocation_id in message and "docs/workflows.md" in message
    assert invocation.status is S.FAILED


def test_identity_inline(app: Pynenc) -> None:
    invocation = wf_pause.parent_workflow()
    found = invocation.result
    top = invocation.invocation_id
    assert found["me"]["workflow_id"] == top
    assert found["me"]["workflow_type"] == "tests.apps.wf_pause.parent_workflow"
    assert found["member"]["workflow_id"] == top  # joined
    assert found["member"]["invocation_id"] != top
    assert found["sub"]["workflow_id"] == found["sub"]["invocation_id"] != top
    assert found["sub"]["parent_workflow_id"] == top
