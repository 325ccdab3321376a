"""Tasks measured on the embedded default (memory broker + memory state, ThreadRunner in a
thread of the bench process) and in dev sync mode."""

from __future__ import annotations

from pynenc import Pynenc

app = Pynenc(app_id="bench-embedded")


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
def add(x: int, y: int) -> int:
    return x + y


@app.direct_task
def add_direct(x: int, y: int) -> int:
    return x + y


@app.task
def total(results: list[int]) -> int:
    """A chord's body: the sum of its header's results."""
    return sum(results)


@app.task
def inc(x: int) -> int:
    """A chain's step: one more than the previous step's result."""
    return x + 1


def plain_add(x: int, y: int) -> int:
    return x + y
