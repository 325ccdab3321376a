"""Tasks for the composition visibility tests (``pynenc status`` of chains, chords,
error callbacks and calls made inside a task). Configured by environment (runner
subprocesses) or by assignment (the test process)."""

from __future__ import annotations

import threading
from typing import Any

from pynenc import Pynenc, chain
from pynenc.invocation.base import BaseInvocation

app = Pynenc(app_id="tests-canvas-vis", config_values={"runner": {"threads": 4}})

#: set by a test to let ``gate`` finish (thread runners only: same process)
GATE = threading.Event()


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def double(x: int) -> int:
    return 2 * x


@app.task
def total(values: list[int]) -> int:
    return sum(values)


@app.task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@app.task
def report(failed: BaseInvocation[Any, Any], exc: BaseException) -> str:
    return f"{failed.invocation_id} failed: {exc}"


@app.task
def gate(x: int) -> int:
    """Waits for ``GATE`` (at most 60 s), then returns ``x``."""
    GATE.wait(60)
    return x


@app.task
def spawn(n: int, compose: bool) -> list[str]:
    """Calls ``add`` ``n`` times, then (``compose``) runs a chain, from inside a task
    (children of this invocation), and waits for them. Returns the children's ids in call
    order."""
    calls = [add(i, i) for i in range(n)]
    steps = chain(add.sig(1, 1), double.sig()).run() if compose else None
    results = [call.result for call in calls]
    ids = [call.invocation_id for call in calls]
    if steps is not None:
        results.append(steps.result)
        ids += [inv.invocation_id for inv in steps.invocations]
    assert len(results) == n + (steps is not None)
    return ids
