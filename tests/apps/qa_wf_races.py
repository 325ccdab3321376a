"""Workflows for the race and crash tests of ``tests/integration/test_qa_workflows_races.py``
and ``tests/unit/test_qa_workflow_*.py``.

The app is configured by environment (runner subprocesses) or by assignment (the test
process, see ``tests/integration/deployments.py``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pynenc import Pynenc

app = Pynenc(app_id="tests-qa-wf-races")


@app.task
def stamp(pause: float = 0.0) -> str:
    """A new value on every call: a child reused from another run shows as a repeat."""
    time.sleep(pause)
    return uuid.uuid4().hex


@app.task
def poller(limit: int) -> list[str]:
    """Continues as new with the *same* arguments until it has ``limit`` stamps, one
    fresh child per run (a poller's loop)."""
    got = poller.wf.execute_task(stamp).result
    seen: list[str] = poller.wf.get_data("seen", [])
    seen.append(got)
    poller.wf.set_data("seen", seen)
    if len(seen) < limit:
        poller.wf.continue_as_new(limit)
    return seen


@app.task
def slow_poller(limit: int, pause: float) -> list[str]:
    """:func:`poller` whose child takes ``pause`` seconds (a runner can be killed mid-loop)."""
    got = slow_poller.wf.execute_task(stamp, pause).result
    seen: list[str] = slow_poller.wf.get_data("seen", [])
    seen.append(got)
    slow_poller.wf.set_data("seen", seen)
    if len(seen) < limit:
        slow_poller.wf.continue_as_new(limit, pause)
    return seen


@app.task
def approvals(count: int) -> list[Any]:
    """Pauses ``count`` times in one run; each resume value is kept."""
    values = []
    for n in range(count):
        values.append(approvals.wf.pause(f"approval {n + 1}"))
        approvals.wf.random()
    return values


@app.task
def rounds(n: int, until: int) -> list[Any]:
    """Each run calls a child and pauses; after the resume it continues as new with the
    next ``n``, until ``n`` reaches ``until``."""
    got = rounds.wf.execute_task(stamp).result
    decision = rounds.wf.pause(f"round {n}")
    if n < until:
        rounds.wf.continue_as_new(n + 1, until)
    return [n, decision, got]


@app.task
def keeper(n: int) -> Any:
    """A body whose steps the unit tests make by hand (two attempts of one run)."""
    keeper.wf.save_state(n)
    return keeper.wf.get_state()


#: the caller-chosen id of ``middle`` (the same id called again after a purge)
MIDDLE_ID = "qa-wf-races-middle"


@app.task
def probe() -> str:
    """A member: the workflow it joined."""
    return probe.wf.identity.workflow_id


@app.task
def middle() -> str:
    """Calls ``probe`` (the workflow ``probe`` joins is ``middle``'s)."""
    return probe().result


@app.task
def top() -> str:
    """Starts a workflow that ``middle`` (called under :data:`MIDDLE_ID`) joins."""
    return middle.with_options(invocation_id=MIDDLE_ID)().result


def _who(task: Any) -> dict[str, Any]:
    identity = task.wf.identity
    return {
        "workflow_id": identity.workflow_id,
        "parent_workflow_id": identity.parent_workflow_id,
        "invocation_id": identity.invocation_id,
    }


@app.task
def joiner() -> dict[str, Any]:
    """A member of whichever workflow calls it."""
    return _who(joiner)


@app.task(force_new_workflow=True)
def sub_flow() -> dict[str, Any]:
    """A sub-workflow that calls a member."""
    return {"me": _who(sub_flow), "member": sub_flow.wf.execute_task(joiner).result}


@app.task
def member_calling_sub() -> dict[str, Any]:
    """A member that calls a sub-workflow."""
    return {
        "me": _who(member_calling_sub),
        "sub": member_calling_sub.wf.execute_task(sub_flow).result,
    }


@app.task
def outer_flow() -> dict[str, Any]:
    """A sub-workflow (with its member) and a member (with its sub-workflow)."""
    return {
        "sub": outer_flow.wf.execute_task(sub_flow).result,
        "member": outer_flow.wf.execute_task(member_calling_sub).result,
    }
