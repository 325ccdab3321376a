"""Tasks of ``python -m bench.worker_pool``: the same no-op with and without a soft limit."""

from __future__ import annotations

from pynenc import Pynenc

app = Pynenc(app_id="bench-worker-pool")


@app.task
def noop() -> None:
    return None


@app.task(soft_timeout=30, timeout=60)
def noop_soft() -> None:
    """A soft limit arms a timer around each run (the signal path of a one-slot worker)."""
    return None


@app.task
def echo(x: int) -> int:
    return x
