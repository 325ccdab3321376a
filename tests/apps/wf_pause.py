"""Workflow tasks for the pause/resume, continue-as-new and dev-sync-mode tests.

``main_wf_task`` is the example of the ``pynenc.task`` reference (``Task.wf``), copied as
written; ``needs_human_approval`` is the one name it leaves to the reader. The other tasks
exercise one feature each. Runners in other processes import this module
(``tests.apps.wf_pause:app``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pynenc import Pynenc

app = Pynenc(app_id="tests-wf-pause")


def needs_human_approval(data: dict[str, Any]) -> bool:
    """The seed leaves it undefined: a call asks for approval with ``{"approval": True}``."""
    return bool(data.get("approval"))


# -- the seed's example, as written (pynenc.task reference, ``Task.wf``) ------------------


@app.task
def main_wf_task(data: dict) -> str:
    # Save workflow state
    state = main_wf_task.wf.get_state({"step": 0})

    # Use deterministic random
    if main_wf_task.wf.random() > 0.5:
        state["path"] = "A"
    else:
        state["path"] = "B"

    # Save updated state
    main_wf_task.wf.save_state(state)

    # Conditionally pause workflow
    if needs_human_approval(data):
        main_wf_task.wf.pause("Waiting for approval")

    return f"Completed via path {state['path']}"


# -- pause and resume ---------------------------------------------------------------------


@app.task
def approve(amount: int) -> dict[str, Any]:
    """Pauses for a decision; returns the resume value, and the uuid drawn before the
    pause (the same on the replay after the resume)."""
    ticket = approve.wf.uuid()
    decision = approve.wf.pause(f"approve {amount}?")
    return {"amount": amount, "decision": decision, "ticket": ticket}


@app.task
def add(x: int, y: int) -> int:
    return x + y


# -- continue-as-new ----------------------------------------------------------------------


@app.task
def countdown(remaining: int, leaks: int = 0) -> dict[str, Any]:
    """Continues as new ``remaining`` times. Each run checks its state starts empty (a
    state left by an earlier run counts as a leak), counts itself in the workflow's data,
    and the last run reports what it saw."""
    wf = countdown.wf
    state = wf.get_state(None)
    if state is not None:
        leaks += 1
    wf.save_state({"remaining": remaining})
    runs_seen = wf.get_data("runs", 0) + 1
    wf.set_data("runs", runs_seen)
    if remaining > 0:
        wf.continue_as_new(remaining - 1, leaks=leaks)
    identity = wf.identity
    return {
        "leaks": leaks,
        "runs_seen": runs_seen,
        "run": identity.run,
        "workflow_id": identity.workflow_id,
        "invocation_id": identity.invocation_id,
        "workflow_type": identity.workflow_type,
    }


@app.task
def continue_then_pause(remaining: int) -> dict[str, Any]:
    """Continues as new ``remaining`` times, then draws a number and pauses in its last
    run: a resume replays that run (not the first one)."""
    wf = continue_then_pause.wf
    if remaining > 0:
        wf.save_state({"remaining": remaining})
        wf.continue_as_new(remaining - 1)
    drawn = wf.random()
    decision = wf.pause("the last run")
    return {"run": wf.identity.run, "drawn": drawn, "decision": decision, "state": wf.get_state()}


@app.task
def pause_each_run(n: int, last: int) -> list[Any]:
    """Pauses in each of its runs, then continues as new until run ``last``: each resume
    value reaches the run it was given to. Returns the values, oldest first."""
    wf = pause_each_run.wf
    got = wf.pause(f"run {n}")
    values = [*wf.get_data("values", []), got]
    wf.set_data("values", values)
    if n < last:
        wf.continue_as_new(n + 1, last)
    return [wf.identity.run, values]


# -- mistakes -----------------------------------------------------------------------------


@app.task
def fickle(marker: str) -> str:
    """Nondeterministic: the first time it draws a random number, every later time (the
    replay after its pause) a uuid at that step, because a file outside says so."""
    first = not Path(marker).exists()
    Path(marker).touch()
    if first:
        fickle.wf.random()
    else:
        fickle.wf.uuid()
    fickle.wf.pause("replay me")
    return "never"


@app.task
def save_a_set() -> None:
    """Saves a state that is not JSON."""
    save_a_set.wf.save_state({"seen": {1, 2}})


# -- identity -----------------------------------------------------------------------------


def _who(task: Any) -> dict[str, Any]:
    """``task``'s workflow identity."""
    identity = task.wf.identity
    return {
        "workflow_id": identity.workflow_id,
        "workflow_type": identity.workflow_type,
        "parent_workflow_id": identity.parent_workflow_id,
        "invocation_id": identity.invocation_id,
        "run": identity.run,
    }


@app.task
def member() -> dict[str, Any]:
    """A task that uses ``wf`` without ``force_new_workflow``: called from a workflow
    through ``wf.execute_task``, it joins it (and shares its data)."""
    member.wf.set_data("member-was-here", True)
    return {**_who(member), "data": member.wf.get_data("parent-says")}


@app.task(force_new_workflow=True)
def sub_workflow() -> dict[str, Any]:
    """Declared ``force_new_workflow``: called from a workflow, it is a sub-workflow of its
    own, linked to its caller's."""
    sub_workflow.wf.random()
    return _who(sub_workflow)


@app.task
def parent_workflow() -> dict[str, Any]:
    """Calls a member and a sub-workflow; its own identity and theirs."""
    me = _who(parent_workflow)
    parent_workflow.wf.set_data("parent-says", "hello")
    joined = parent_workflow.wf.execute_task(member).result
    sub = parent_workflow.wf.execute_task(sub_workflow).result
    seen = parent_workflow.wf.get_data("member-was-here")
    return {"me": me, "member": joined, "sub": sub, "member_was_here": seen}
