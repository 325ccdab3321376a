"""Tasks of docs/workflows.md's determinism mistakes (tests/unit/test_workflow_docs.py)."""

from __future__ import annotations

from typing import Any

from pynenc import Pynenc

app = Pynenc(app_id="wf-docs", config_values={"dev_mode_force_sync_tasks": True})

#: attempts per test key (a body behaves differently on its second attempt)
attempts: dict[str, int] = {}
#: runs of ship per order
shipped: dict[str, int] = {}


def _attempt(key: str) -> int:
    attempts[key] = attempts.get(key, 0) + 1
    return attempts[key]


@app.task
def ship(order: str) -> str:
    shipped[order] = shipped.get(order, 0) + 1
    return f"shipped {order}"


@app.task
def report(at: float) -> float:
    return at


@app.task(max_retries=1, retry_for=(ConnectionError,))
def flow_branches(key: str) -> str:
    """Mistake 1: the branch taken changes between attempts (as random or the clock would)."""
    if _attempt(key) == 1:
        flow_branches.wf.execute_task(ship, key)
        raise ConnectionError("lost the database: retried")
    return flow_branches.wf.uuid()


@app.task(max_retries=1, retry_for=(ConnectionError,))
def flow_arguments(key: str) -> float:
    """Mistake 2: a child gets other arguments on the replay (as time.time() would give)."""
    attempt = _attempt(key)
    value = flow_arguments.wf.execute_task(report, at=float(attempt)).result
    if attempt == 1:
        raise ConnectionError("retried")
    return value


@app.task(max_retries=1, retry_for=(ConnectionError,))
def flow_direct_call(key: str) -> str:
    """Mistake 3: a child called directly runs again on the replay."""
    result = ship(key).result
    if _attempt(key) == 1:
        raise ConnectionError("retried")
    return result


@app.task(max_retries=1, retry_for=(ConnectionError,))
def flow_with_execute(key: str) -> str:
    """Mistake 3 fixed: the child runs once."""
    result = flow_with_execute.wf.execute_task(ship, key).result
    if _attempt(key) == 1:
        raise ConnectionError("retried")
    return str(result)


@app.task
def flow_set_state() -> None:
    """Mistake 4: a state that is not JSON."""
    flow_set_state.wf.save_state({"seen": {1, 2}})


@app.task
def flow_swallows_pause() -> str:
    """Mistake 6: except BaseException keeps the body running past the pause."""
    try:
        flow_swallows_pause.wf.pause("approval")
    except BaseException:
        return "ran past the pause"
    return "paused"


@app.task
def flow_counts() -> Any:
    """The rule for state: get_state is a step, so an increment is applied once."""
    state = flow_counts.wf.get_state({"count": 0})
    state["count"] += 1
    flow_counts.wf.save_state(state)
    flow_counts.wf.pause("look")
    return state["count"]
