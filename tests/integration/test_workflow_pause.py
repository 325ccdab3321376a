"""Pause and resume with real runners on memory, SQLite and Redis.

The seed's example (``main_wf_task``) runs as written; ``wf.pause()`` returns the value
given to ``app.workflows.resume``; waiters on a paused workflow keep waiting (or time
out); a paused workflow can be cancelled, survives a runner restart and holds no runner
slot (every runner here has one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from pynenc import InvocationStatus
from pynenc.exceptions import (
    InvocationCancelledError,
    InvocationTimeoutError,
    WorkflowNotPausedError,
)
from pynenc.invocation.base import BaseInvocation
from tests.apps import wf_pause
from tests.integration.deployments import wait_until
from tests.integration.wf_helpers import DEPLOYMENTS, WAIT, Deployed, deployed

S = InvocationStatus
#: a wait that must time out on a paused workflow (its length is not asserted)
SHORT = 1.0


@pytest.fixture(scope="module", params=DEPLOYMENTS, ids=lambda p: "-".join(p))
def wf(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    kind, runner_cls = request.param
    workdir = tmp_path_factory.mktemp(f"wf-pause-{kind}")
    with deployed(kind, runner_cls, workdir, request, slots=1) as found:
        yield found


def _status(wf: Deployed, invocation: BaseInvocation[Any, Any]) -> InvocationStatus:
    record = wf.app.state_backend.get(invocation.invocation_id)
    assert record is not None
    return record.status


def _paused(wf: Deployed, invocation: BaseInvocation[Any, Any]) -> None:
    what = f"workflow {invocation.invocation_id} to pause"
    wait_until(lambda: _status(wf, invocation) is S.PAUSED, WAIT, what)


def _waiter(invocation: BaseInvocation[Any, Any]) -> tuple[Future[Any], ThreadPoolExecutor]:
    """A thread waiting for ``invocation``'s result, already waiting when this returns
    (give it a moment: the caller's own timed-out wait)."""
    entered = threading.Event()

    def wait() -> Any:
        entered.set()
        return invocation.get_result(timeout=WAIT)

    pool = ThreadPoolExecutor(1)
    future = pool.submit(wait)
    assert entered.wait(WAIT)
    return future, pool


def test_the_seed_example_runs_as_written(wf: Deployed) -> None:
    app = wf.app
    plain = wf_pause.main_wf_task({"approval": False})
    result = plain.get_result(timeout=WAIT)
    info = app.workflows.get(plain.invocation_id)
    path = "A" if info.steps[1]["v"] > 0.5 else "B"  # the random value recorded
    assert result == f"Completed via path {path}", wf.log_tail()
    assert info.state == {"step": 0, "path": path} and info.status is S.SUCCESS

    asked = wf_pause.main_wf_task({"approval": True})
    _paused(wf, asked)
    paused = app.workflows.get(asked.invocation_id)
    assert paused.paused_reason == "Waiting for approval"
    assert [s["k"] for s in paused.steps] == ["get_state", "random", "save_state", "pause"]
    drawn, path = paused.steps[1]["v"], paused.state["path"]
    assert path == ("A" if drawn > 0.5 else "B")

    resumed = app.workflows.resume(asked.invocation_id)
    assert resumed.invocation_id == asked.invocation_id
    assert asked.get_result(timeout=WAIT) == f"Completed via path {path}"
    done = app.workflows.get(asked.invocation_id)
    assert done.steps[1]["v"] == drawn  # replayed, not drawn again
    assert done.steps[3] == {
        "k": "pause",
        "reason": "Waiting for approval",
        "resumed": True,
        "value": None,
    }
    assert done.state == {"step": 0, "path": path} and done.paused_reason is None
    statuses = [e.status for e in app.state_backend.history(asked.invocation_id)]
    assert statuses == [S.REGISTERED, S.RUNNING, S.PAUSED, S.REGISTERED, S.RUNNING, S.SUCCESS]


def test_resume_value_and_waiters(wf: Deployed) -> None:
    app = wf.app
    invocation = wf_pause.approve(5)
    _paused(wf, invocation)
    ticket = app.workflows.get(invocation.invocation_id).steps[0]["v"]
    future, pool = _waiter(invocation)
    try:
        with pytest.raises(InvocationTimeoutError, match="PAUSED"):
            invocation.get_result(timeout=SHORT)  # a wait times out: it does not fail
        assert not future.done()  # the waiter started before the resume still waits
        app.workflows.resume(invocation.invocation_id, {"ok": True, "by": "ann"})
        expected = {"amount": 5, "decision": {"ok": True, "by": "ann"}, "ticket": ticket}
        assert future.result(timeout=WAIT) == expected, wf.log_tail()
    finally:
        pool.shutdown(wait=False)
    assert invocation.get_result(timeout=WAIT) == expected
    with pytest.raises(WorkflowNotPausedError, match="is SUCCESS, not PAUSED"):
        app.workflows.resume(invocation.invocation_id, "again")
    plain = wf_pause.add(1, 2)
    assert plain.get_result(timeout=WAIT) == 3
    with pytest.raises(WorkflowNotPausedError, match="not PAUSED"):
        app.workflows.resume(plain.invocation_id)


def test_cancel_a_paused_workflow(wf: Deployed) -> None:
    app = wf.app
    invocation = wf_pause.approve(7)
    _paused(wf, invocation)
    future, pool = _waiter(invocation)
    try:
        with pytest.raises(InvocationTimeoutError):
            invocation.get_result(timeout=SHORT)
        answer = app.workflows.cancel(invocation.invocation_id, reason="not approved")
        assert answer and answer.previous is S.PAUSED and answer.status is S.CANCELLED
        with pytest.raises(InvocationCancelledError, match="not approved"):
            future.result(timeout=WAIT)
    finally:
        pool.shutdown(wait=False)
    assert _status(wf, invocation) is S.CANCELLED
    with pytest.raises(InvocationCancelledError):
        invocation.get_result(timeout=WAIT)
    with pytest.raises(WorkflowNotPausedError, match="is CANCELLED"):
        app.workflows.resume(invocation.invocation_id)


def test_a_paused_workflow_holds_no_runner_slot(wf: Deployed) -> None:
    # one slot: the second workflow and the plain calls run only if the first let it go
    first, second = wf_pause.approve(1), wf_pause.approve(2)
    _paused(wf, first)
    _paused(wf, second)
    assert wf_pause.add(2, 3).get_result(timeout=WAIT) == 5
    plain = wf_pause.main_wf_task({})
    assert plain.get_result(timeout=WAIT).startswith("Completed via path ")
    assert _status(wf, first) is S.PAUSED and _status(wf, second) is S.PAUSED
    for n, invocation in ((1, first), (2, second)):
        wf.app.workflows.resume(invocation.invocation_id, n * 10)
    assert first.get_result(timeout=WAIT)["decision"] == 10
    assert second.get_result(timeout=WAIT)["decision"] == 20


def test_a_paused_workflow_survives_a_runner_restart(wf: Deployed) -> None:
    app = wf.app
    invocation = wf_pause.approve(9)
    _paused(wf, invocation)
    ticket = app.workflows.get(invocation.invocation_id).steps[0]["v"]
    wf.restart()
    assert _status(wf, invocation) is S.PAUSED
    app.workflows.resume(invocation.invocation_id, "after the restart")
    expected = {"amount": 9, "decision": "after the restart", "ticket": ticket}
    assert invocation.get_result(timeout=WAIT) == expected, wf.log_tail()
    # resumed while no runner runs: the next runner to start completes it
    again = wf_pause.approve(10)
    _paused(wf, again)
    ticket = app.workflows.get(again.invocation_id).steps[0]["v"]
    wf.stop_for_good()
    app.workflows.resume(again.invocation_id, "no runner")
    assert _status(wf, again) is S.REGISTERED
    wf.start()
    expected = {"amount": 10, "decision": "no runner", "ticket": ticket}
    assert again.get_result(timeout=WAIT) == expected, wf.log_tail()


def test_a_pause_after_continues_resumes_the_last_run(wf: Deployed) -> None:
    # continue-as-new on every runner here, the ProcessRunner too (a process per run)
    app = wf.app
    invocation = wf_pause.continue_then_pause(3)
    _paused(wf, invocation)
    info = app.workflows.get(invocation.invocation_id)
    assert info.run == 4 and [r["run"] for r in info.runs] == [1, 2, 3]
    assert [s["k"] for s in info.steps] == ["random", "pause"] and info.state is None
    drawn = info.steps[0]["v"]
    app.workflows.resume(invocation.invocation_id, "go")
    expected = {"run": 4, "drawn": drawn, "decision": "go", "state": None}
    assert invocation.get_result(timeout=WAIT) == expected, wf.log_tail()


def test_each_run_pauses_and_gets_its_own_resume_value(wf: Deployed) -> None:
    invocation = wf_pause.pause_each_run(1, 3)
    for n in range(1, 4):
        _paused(wf, invocation)
        info = wf.app.workflows.get(invocation.invocation_id)
        assert info.run == n and info.paused_reason == f"run {n}"
        wf.app.workflows.resume(invocation.invocation_id, f"value {n}")
    expected = [3, ["value 1", "value 2", "value 3"]]
    assert invocation.get_result(timeout=WAIT) == expected, wf.log_tail()
