"""Workflows for the CLI tests (``pynenc workflow list|show|resume|cancel``).

The app is configured by environment (runner and CLI subprocesses) or by assignment (the
test process, see ``tests/integration/deployments.py``).
"""

from __future__ import annotations

from typing import Any

from pynenc import Pynenc

app = Pynenc(app_id="tests-wf-cli")


@app.task
def double(x: int) -> int:
    return 2 * x


@app.task
def approve_order(order: int) -> dict[str, Any]:
    """Journals a random number, a child call and its state, then waits for approval."""
    state = approve_order.wf.get_state({"order": order, "stage": "new"})
    score = approve_order.wf.random()
    checked = approve_order.wf.execute_task(double, order)
    state.update(stage="checked", score=round(score, 3), doubled=checked.result)
    approve_order.wf.save_state(state)
    decision = approve_order.wf.pause(f"order {order} needs a human approval")
    state.update(stage="decided", decision=decision)
    approve_order.wf.save_state(state)
    return {"order": order, "doubled": checked.result, "decision": decision}


@app.task(force_new_workflow=True)
def count_up(n: int, until: int) -> int:
    """Continues as new until ``n`` reaches ``until``, then pauses (runs 1..until)."""
    count_up.wf.save_state({"n": n})
    if n < until:
        count_up.wf.continue_as_new(n + 1, until)
    count_up.wf.pause(f"counted to {n}")
    return n


@app.task
def fan_out(values: list[int]) -> int:
    """A parallel step and a sub-workflow, then a pause."""
    doubled = fan_out.wf.execute_tasks(double, [(v,) for v in values])
    total = sum(inv.result for inv in doubled)
    fan_out.wf.execute_task(count_up, 1, 1)
    fan_out.wf.pause("look at me")
    return total
