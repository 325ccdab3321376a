"""Workflows that call children, for ``tests/integration/test_workflow_children.py``.

Each child run appends a line to a file (runs happen in several processes; one small
``O_APPEND`` write is atomic), so a test counts how often each child ran. The app is
configured by environment (runner subprocesses) or by ``Deployment.configure``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pynenc import Pynenc

app = Pynenc(app_id="tests-wf-children")


@app.task(parallel_batch_size=4)
def counted(counter: str, x: int) -> int:
    """Records the run in ``counter``; ``x * 10``."""
    fd = os.open(counter, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, f"{x}\n".encode())
    finally:
        os.close(fd)
    return x * 10


def _shift(counter: str) -> int:
    """What a drifting workflow adds to its children's arguments: 1 once ``counter.drift``
    exists (a body that depends on outside state, which breaks the determinism rules)."""
    return 1 if Path(counter + ".drift").exists() else 0


@app.task
def one_by_one(counter: str, n: int, drift: bool = False) -> list[int]:
    """``n`` steps ``wf.execute_task(counted, ...)``, a pause, then the results."""
    wf = one_by_one.wf
    shift = _shift(counter) if drift else 0
    results = [wf.execute_task(counted, counter, i + shift).result for i in range(n)]
    wf.pause("after the children")
    return results


@app.task
def all_at_once(counter: str, n: int, drift: bool = False) -> list[int]:
    """One step ``wf.execute_tasks(counted, n calls)``, a pause, then the results."""
    wf = all_at_once.wf
    shift = _shift(counter) if drift else 0
    invocations = wf.execute_tasks(counted, [(counter, i + shift) for i in range(n)])
    results = [invocation.result for invocation in invocations]
    wf.pause("after the children")
    return results
