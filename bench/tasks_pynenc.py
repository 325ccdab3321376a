"""Tasks the bench runs on pynenc over a server transport; the app is configured from env.

A runner subprocess imports this module with ``PYNENC__BROKER_URL``,
``PYNENC__STATE_BACKEND_URL``, ``PYNENC__APP_ID`` and ``PYNENC__RUNNER__THREADS`` set, and
runs ``app.runner.run()``. The bench process registers the same functions on an app of its
own per transport (same task ids), so this module's ``app`` is only used by the runner.
"""

from __future__ import annotations

from pynenc import Pynenc

app = Pynenc()


@app.task
def noop() -> None:
    return None


@app.task
def echo(x: int) -> int:
    return x


@app.direct_task
def echo_direct(x: int) -> int:
    return x


@app.task
def total(results: list[int]) -> int:
    """A chord's body: the sum of its header's results."""
    return sum(results)


@app.task
def inc(x: int) -> int:
    """A chain's step: one more than the previous step's result."""
    return x + 1
