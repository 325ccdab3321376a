"""A hostile user's resumes, on real runners: two resumes racing, a resume racing a cancel,
a body that swallows its pause. Exactly one resume wins, its value is the one the body
gets, and the loser is told why.

Every setup of :data:`tests.integration.qa_wf_helpers.SETUPS` (memory, SQLite and Redis;
thread, process and persistent-process runners).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import InvocationStatus
from pynenc.exceptions import InvocationCancelledError, WorkflowNotPausedError
from tests.apps import qa_wf as q
from tests.integration.qa_wf_helpers import SETUPS, WfSetup, setup_id, wf_setup

S = InvocationStatus


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WfSetup]:
    yield from wf_setup(request, tmp_path_factory)


def _meanwhile(setup: WfSetup, monkeypatch: pytest.MonkeyPatch, act: Any) -> dict[str, Any]:
    """Run ``act()`` at the first status change this process makes (the first resume's),
    as another caller would between that resume's check and its change."""
    backend = setup.app.state_backend
    real = backend.set_status
    seen: dict[str, Any] = {}

    def set_status(update: Any) -> Any:
        if not seen:
            seen["first"] = True
            try:
                seen["other"] = act()
            except Exception as exc:  # what the other caller was told
                seen["other"] = exc
        return real(update)

    monkeypatch.setattr(backend, "set_status", set_status)
    return seen


def test_two_resumes_racing_one_wins_with_its_value(
    setup: WfSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = setup.app
    flow = q.step_pauses(1)
    setup.wait_status(flow.invocation_id, S.PAUSED)
    seen = _meanwhile(setup, monkeypatch, lambda: app.workflows.resume(flow.invocation_id, 200))
    try:
        app.workflows.resume(flow.invocation_id, 100)
        mine: Any = "won"
    except Exception as exc:
        mine = exc
    monkeypatch.undo()
    other = seen["other"]
    losers = [r for r in (mine, other) if isinstance(r, Exception)]
    assert len(losers) == 1, (mine, other)
    assert isinstance(losers[0], WorkflowNotPausedError), losers[0]
    assert "not PAUSED" in str(losers[0])
    value = 100 if mine == "won" else 200
    assert setup.result(flow) == 1 + value


def test_a_resume_racing_a_cancel(setup: WfSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancel between a resume's check and its change: the cancel stands, the resume is
    refused as not PAUSED, and the workflow's journal is left as the pause left it."""
    app = setup.app
    flow = q.step_pauses(2)
    setup.wait_status(flow.invocation_id, S.PAUSED)
    seen = _meanwhile(setup, monkeypatch, lambda: app.workflows.cancel(flow.invocation_id))
    with pytest.raises(WorkflowNotPausedError, match="CANCELLED"):
        app.workflows.resume(flow.invocation_id, 5)
    monkeypatch.undo()
    assert seen["other"].cancelled
    with pytest.raises(InvocationCancelledError):
        setup.result(flow)
    [pause] = app.workflows.get(flow.invocation_id).steps
    assert pause == {"k": "pause", "reason": "step 2"}


def test_a_swallowed_pause_is_taken_at_the_next_wf_step(setup: WfSetup) -> None:
    """A body that catches its pause (a bare except) and goes on stops at its next wf
    operation instead of recording steps past a pause: PAUSED, and a resume completes."""
    app = setup.app
    flow = q.swallow_pause(7)
    setup.wait_status(flow.invocation_id, S.PAUSED, S.SUCCESS)
    info = app.workflows.get(flow.invocation_id)
    assert info.status is S.PAUSED, info.steps
    assert info.steps == [{"k": "pause", "reason": "swallowed"}]
    app.workflows.resume(flow.invocation_id)
    assert setup.result(flow) == ["resumed", True, 7]


def test_a_swallowed_continue_as_new_is_taken_at_the_next_wf_step(setup: WfSetup) -> None:
    flow = q.swallow_continue(1, 3)
    assert setup.result(flow) == [3, True]
    assert setup.app.workflows.get(flow.invocation_id).run == 3
