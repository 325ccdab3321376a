"""A workflow that continues as new many times (tests/integration/test_workflow_history_bound.py).

The app is configured by environment (runner subprocesses) or by assignment (the test
process, see ``tests/integration/deployments.py``).
"""

from __future__ import annotations

from pynenc import Pynenc

app = Pynenc(app_id="tests-wf-hist")


@app.task
def loop(remaining: int, runs: int) -> int:
    """Continue as new ``remaining`` more times, each run journaling a value and saving
    state; return how many runs there were. ``runs``: the runs before this one."""
    wf = loop.wf
    state = wf.get_state({"draws": 0})
    wf.random()
    wf.save_state({"draws": state["draws"] + 1})
    if remaining > 0:
        wf.continue_as_new(remaining - 1, runs + 1)
    return runs + 1
