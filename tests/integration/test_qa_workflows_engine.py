"""A hostile user's workflows meeting the engine's other features, on real runners: the
``run_end`` hook, triggers watching a workflow task, running concurrency, cancellation.

Every setup of :data:`tests.integration.qa_wf_helpers.SETUPS` (memory, SQLite and Redis;
thread, process and persistent-process runners), and dev sync mode where it applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import InvocationStatus
from tests.apps import qa_wf as q
from tests.integration.deployments import wait_until
from tests.integration.qa_wf_helpers import SETUPS, WfSetup, setup_id, wf_setup

S = InvocationStatus
#: what run_end sees of hooked_flow(1, 3): two runs continued, a pause, the resumed end
HOOKED = ["REGISTERED", "REGISTERED", "PAUSED", "SUCCESS"]


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WfSetup]:
    yield from wf_setup(request, tmp_path_factory)


def test_run_end_sees_each_attempt_of_a_workflow(setup: WfSetup, tmp_path: Path) -> None:
    path = str(tmp_path / f"hooked-{uuid.uuid4().hex[:6]}")
    flow = q.hooked_flow(1, 3, path)
    setup.wait_status(flow.invocation_id, S.PAUSED)
    setup.app.workflows.resume(flow.invocation_id)
    assert setup.result(flow) == 3
    assert q.lines(path) == HOOKED


def test_run_end_sees_each_attempt_of_a_workflow_in_dev_sync_mode(tmp_path: Path) -> None:
    """Dev sync mode fires run_end for a workflow's attempts as a runner does (it fired
    none for an attempt that paused or continued as new)."""
    app = q.app
    app.conf.dev_mode_force_sync_tasks = True
    try:
        path = str(tmp_path / "hooked")
        flow = q.hooked_flow(1, 3, path)
        assert flow.status is S.PAUSED
        app.workflows.resume(flow.invocation_id)
        assert flow.result == 3
        assert q.lines(path) == HOOKED
    finally:
        app.conf.dev_mode_force_sync_tasks = False


def test_a_paused_workflow_gives_back_its_running_slot(setup: WfSetup) -> None:
    """running_concurrency=TASK (one at a time): a paused workflow holds no slot, so the
    next one runs (and pauses) too; resumed, each takes the slot again and completes."""
    app = setup.app
    first, second = q.one_at_a_time(1), q.one_at_a_time(2)
    setup.wait_status(first.invocation_id, S.PAUSED)
    setup.wait_status(second.invocation_id, S.PAUSED)
    app.workflows.resume(first.invocation_id, 10)
    app.workflows.resume(second.invocation_id, 20)
    assert [setup.result(first), setup.result(second)] == [11, 22]


def test_wf_from_a_thread_of_the_body_says_so(setup: WfSetup) -> None:
    said = setup.result(q.wf_from_a_thread())
    assert said.startswith("tests.apps.qa_wf.wf_from_a_thread.wf is only available while ")
    assert "no task runs in this thread" in said and "wf.execute_tasks" in said
    other = setup.result(q.wf_of_another_task())
    assert "this thread runs tests.apps.qa_wf.wf_of_another_task" in other
    assert "tests.apps.qa_wf.wf_of_another_task.wf" in other


def test_a_workflow_cancelled_while_running_calls_no_more_children(
    setup: WfSetup, tmp_path: Path
) -> None:
    """Cancelled while its body runs (here between two steps, where a thread runner cannot
    stop it), the workflow's next execute_task stops it instead of calling the child."""
    tag = uuid.uuid4().hex[:6]
    counter, gate, started, done = (
        str(tmp_path / f"{n}-{tag}") for n in ("runs", "gate", "started", "done")
    )
    flow = q.cancelled_then_calls(counter, gate, started, done)
    wait_until(lambda: q.lines(started) == ["run"], 60, "the body to reach its wait")
    assert setup.app.workflows.cancel(flow.invocation_id, "order withdrawn").cancelled
    Path(gate).touch()
    if setup.runner_cls == "ThreadRunner":  # a process runner kills the body at once
        wait_until(lambda: q.lines(done) == ["run"], 60, "the body to end")
    assert setup.record(f"{flow.invocation_id}-wf1-2") is None
    assert q.lines(counter) == []
