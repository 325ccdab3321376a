"""Tasks of the progress, result cache and client data store tests.

Runs of a task are counted in files (``counter`` arguments): runners may be other processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pynenc import Pynenc

app = Pynenc(app_id="tests-data", config_values={"runner": {"threads": 4, "processes": 2}})


def count_run(counter: str) -> None:
    """Append a line to ``counter`` (one small O_APPEND write: atomic across processes)."""
    fd = os.open(counter, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, b"run\n")
    finally:
        os.close(fd)


def runs(counter: str | Path) -> int:
    path = Path(counter)
    return len(path.read_text().splitlines()) if path.exists() else 0


@app.task
def report_progress(total: int) -> int:
    for done in range(1, total + 1):
        report_progress.invocation.set_progress("PROGRESS", {"done": done, "total": total})
    return total


@app.task
def progress_then_wait(gate: str, total: int) -> int:
    """Publishes its progress, then waits for the test to create ``gate`` (another process
    may run it: a file is the only signal both sides see)."""
    for done in range(1, total + 1):
        progress_then_wait.invocation.set_progress("PROGRESS", {"done": done, "total": total})
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    return total


@app.task
def bad_progress() -> None:
    bad_progress.invocation.set_progress("PROGRESS", {"when": object()})


@app.task(call_result_cache=True, disable_cache_args=("verbose",))
def cached_square(x: int, counter: str, verbose: bool = False) -> int:
    count_run(counter)
    return x * x


@app.task(call_result_cache=True)
def cached_fail(counter: str) -> None:
    count_run(counter)
    raise ValueError("not cached")


@app.task
def measure(data: str, index: int) -> int:
    return len(data) + index


@app.task
def big_result(size: int) -> str:
    return "r" * size
