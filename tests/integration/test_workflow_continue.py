"""Continue-as-new and workflow identity with real runners on memory, SQLite and Redis.

A loop of 1,000 ``wf.continue_as_new`` runs completes with its last run's result, to the
waiter on the original invocation, and keeps storage bounded: what a workflow keeps in
the state backend after 1,000 runs is what it keeps after 10.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pynenc import InvocationStatus
from pynenc.workflow.journal import RUNS_KEPT
from tests.apps import wf_pause
from tests.integration.wf_helpers import WAIT, Deployed, deployed, footprint

S = InvocationStatus
LONG_LOOP = 1000
SHORT_LOOP = 10
#: entries a bounded status history may hold (unbounded, 1,000 runs leave 2,000 and more)
HISTORY_BOUND = 200
COUNTDOWN = "tests.apps.wf_pause.countdown"
#: a runner in this process on memory://, runner processes on SQLite and Redis. Not the
#: ProcessRunner: it starts a process per attempt (~150 ms each, 1,000 runs take minutes);
#: test_workflow_pause.py runs continue-as-new on it.
DEPLOYMENTS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "PersistentProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "PersistentProcessRunner"),
]


@pytest.fixture(scope="module", params=DEPLOYMENTS, ids=lambda p: "-".join(p))
def wf(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    kind, runner_cls = request.param
    workdir = tmp_path_factory.mktemp(f"wf-continue-{kind}")
    with deployed(kind, runner_cls, workdir, request, slots=2) as found:
        yield found


@dataclass
class Loop:
    """A ``countdown`` workflow run to its end, and the backend's footprint after it."""

    invocation_id: str
    result: dict[str, Any]
    seconds: float
    footprint: dict[str, int]


def _loop(wf: Deployed, runs: int) -> Loop:
    began = time.perf_counter()
    invocation = wf_pause.countdown(runs)
    result = invocation.get_result(timeout=WAIT + runs * 0.1)
    seconds = time.perf_counter() - began
    return Loop(invocation.invocation_id, result, seconds, footprint(wf, invocation.invocation_id))


@pytest.fixture(scope="module")
def loops(wf: Deployed) -> tuple[Loop, Loop, Loop]:
    """Three loops in a row: 10 runs (the first workflow: it creates what every workflow
    shares, such as the task's indexes), 10 runs, 1,000 runs."""
    first = _loop(wf, SHORT_LOOP)
    short = _loop(wf, SHORT_LOOP)
    long = _loop(wf, LONG_LOOP)
    print(f"{wf.kind}/{wf.runner_cls}: {LONG_LOOP} continue-as-new runs in {long.seconds:.2f} s")
    return first, short, long


def test_a_thousand_continues_complete_with_bounded_storage(
    wf: Deployed, loops: tuple[Loop, Loop, Loop]
) -> None:
    app = wf.app
    first, short_loop, long_loop = loops
    before, after_short, after_long = first.footprint, short_loop.footprint, long_loop.footprint
    short, long, long_id = short_loop.result, long_loop.result, long_loop.invocation_id

    # the waiter on the original invocation gets the last run's result
    assert long == {
        "leaks": 0,  # every run started with no state
        "runs_seen": LONG_LOOP + 1,  # the workflow's data outlived every run
        "run": LONG_LOOP + 1,
        "workflow_id": long_id,  # the same workflow, the same invocation, all along
        "invocation_id": long_id,
        "workflow_type": COUNTDOWN,
    }, wf.log_tail()
    assert short["run"] == SHORT_LOOP + 1 and short["leaks"] == 0

    # storage: a workflow of 1,000 runs keeps what one of 10 runs keeps
    assert after_long["values"] == after_short["values"], (after_short, after_long)
    for name in after_short:
        if name != "values":
            grown_short = after_short[name] - before[name]
            grown_long = after_long[name] - after_short[name]
            assert grown_long == grown_short, (name, before, after_short, after_long)

    info = app.workflows.get(long_id)
    assert info.status is S.SUCCESS and info.run == LONG_LOOP + 1
    # the earlier runs, the last RUNS_KEPT of them, oldest first
    assert [r["run"] for r in info.runs] == list(range(LONG_LOOP + 1 - RUNS_KEPT, LONG_LOOP + 1))
    assert info.state == {"remaining": 0}  # the last run's state only
    assert [s["k"] for s in info.steps] == ["get_state", "save_state", "get_data", "set_data"]
    assert app.workflows.get(short_loop.invocation_id).runs[0]["run"] == 1


def test_the_status_history_stays_bounded(wf: Deployed, loops: tuple[Loop, Loop, Loop]) -> None:
    long = loops[2]
    assert long.result["run"] == LONG_LOOP + 1
    assert len(wf.app.state_backend.history(long.invocation_id)) <= HISTORY_BOUND


def test_identity_of_a_workflow_its_members_and_sub_workflows(wf: Deployed) -> None:
    invocation = wf_pause.parent_workflow()
    found = invocation.get_result(timeout=WAIT)
    top = invocation.invocation_id
    parent_type = "tests.apps.wf_pause.parent_workflow"
    # a top-level call starts a workflow: its id is the invocation's, its type the task's
    assert found["me"] == {
        "workflow_id": top,
        "workflow_type": parent_type,
        "parent_workflow_id": None,
        "invocation_id": top,
        "run": 1,
    }
    # a plain task called through wf.execute_task joins the caller's workflow
    joined = found["member"]
    assert joined["workflow_id"] == top and joined["workflow_type"] == parent_type
    assert joined["invocation_id"] != top and joined["parent_workflow_id"] is None
    # a member shares the workflow's data, both ways
    assert joined["data"] == "hello" and found["member_was_here"] is True
    # a task declared force_new_workflow is a sub-workflow, linked to its caller's workflow
    sub = found["sub"]
    assert sub["workflow_id"] == sub["invocation_id"] != top
    assert sub["workflow_type"] == "tests.apps.wf_pause.sub_workflow"
    assert sub["parent_workflow_id"] == top
    info = wf.app.workflows.get(top)
    assert info.children == [joined["invocation_id"], sub["invocation_id"]]
    assert wf.app.workflows.get(sub["workflow_id"]).parent_id == top
