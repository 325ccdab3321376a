"""Tasks of ``bench.workflow_step``: plain parents and workflow parents of one no-op child.

The runner subprocess and the bench process both import this module with
``PYNENC__APP_ID``, ``PYNENC__BROKER_URL`` and ``PYNENC__STATE_BACKEND_URL`` set (the app
reads them when it is built). Every parent times its own steps with ``perf_counter`` and
returns the figures, so the caller's wait and the broker hop to the parent are not in them.
"""

from __future__ import annotations

import time

from pynenc import Pynenc

app = Pynenc()


@app.task
def child(x: int) -> int:
    return x


# -- 1. sequential child calls ---------------------------------------------------------------


@app.task
def plain_steps(n: int) -> list[float]:
    """Seconds of each of ``n`` sequential ``child(i).result`` calls."""
    took = []
    for i in range(n):
        start = time.perf_counter()
        if child(i).result != i:
            raise AssertionError("wrong child result")
        took.append(time.perf_counter() - start)
    return took


@app.task
def wf_steps(n: int) -> list[float]:
    """Seconds of each of ``n`` sequential ``wf.execute_task(child, i).result`` steps."""
    took = []
    for i in range(n):
        start = time.perf_counter()
        if wf_steps.wf.execute_task(child, i).result != i:
            raise AssertionError("wrong child result")
        took.append(time.perf_counter() - start)
    return took


# -- 2. value and state steps ------------------------------------------------------------------


@app.task
def value_steps(kind: str, k: int) -> float:
    """Seconds taken by ``k`` steps ``wf.<kind>()`` (a first run: each step recorded)."""
    wf = value_steps.wf
    start = time.perf_counter()
    if kind == "random":
        for _ in range(k):
            wf.random()
    elif kind == "get_state":
        for _ in range(k):
            wf.get_state({"n": 0})
    elif kind == "save_state":
        for i in range(k):
            wf.save_state({"n": i})
    else:
        raise ValueError(f"unknown step kind {kind!r}")
    return time.perf_counter() - start


# -- 3. replay after a resume ------------------------------------------------------------------


@app.task
def replay_values(k: int) -> float:
    """``k`` ``wf.random()`` steps then a pause; the first run's seconds for the steps go in
    the pause's reason, the resumed run (which replays them) returns its own."""
    wf = replay_values.wf
    start = time.perf_counter()
    for _ in range(k):
        wf.random()
    took = time.perf_counter() - start
    wf.pause(f"{took!r}")
    return took


@app.task
def replay_children(k: int) -> float:
    """As :func:`replay_values` with ``k`` steps ``wf.execute_task(child, i).result``."""
    wf = replay_children.wf
    start = time.perf_counter()
    for i in range(k):
        if wf.execute_task(child, i).result != i:
            raise AssertionError("wrong child result")
    took = time.perf_counter() - start
    wf.pause(f"{took!r}")
    return took


@app.task
def replay_fan(n: int) -> float:
    """As :func:`replay_values` with one step ``wf.execute_tasks(child, n calls)`` and
    every result read."""
    wf = replay_fan.wf
    start = time.perf_counter()
    invocations = wf.execute_tasks(child, [(i,) for i in range(n)])
    if [inv.result for inv in invocations] != list(range(n)):
        raise AssertionError("wrong child results")
    took = time.perf_counter() - start
    wf.pause(f"{took!r}")
    return took


# -- 4. fan-out ------------------------------------------------------------------------------


@app.task
def fan_plain(n: int) -> list[float]:
    """``child.parallelize`` of ``n`` calls, then every result: [seconds to submit, total]."""
    start = time.perf_counter()
    group = child.parallelize([(i,) for i in range(n)])
    submitted = time.perf_counter()
    if list(group.results) != list(range(n)):
        raise AssertionError("wrong child results")
    return [submitted - start, time.perf_counter() - start]


@app.task
def fan_wf(n: int) -> list[float]:
    """``wf.execute_tasks`` of ``n`` calls, then every result: [seconds to submit, total]."""
    start = time.perf_counter()
    group = fan_wf.wf.execute_tasks(child, [(i,) for i in range(n)])
    submitted = time.perf_counter()
    if list(group.results) != list(range(n)):
        raise AssertionError("wrong child results")
    return [submitted - start, time.perf_counter() - start]
