"""Tasks for the deployment tests: runners in other processes, real backends.

The app is configured by environment (runner subprocesses) or by assignment (the test
process, see ``tests/integration/deployments.py``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pynenc import Pynenc, RetryError

app = Pynenc(app_id="tests-deploy")


class Flaky(Exception):
    """Raised until a marker file says enough attempts were made."""


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def sleep_then_add(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x + 1


@app.task
def fail_with(message: str) -> None:
    raise ValueError(message)


@app.task(retry_for=(Flaky,), max_retries=3)
def flaky(marker: str, succeed_on: int) -> int:
    """Counts attempts in a file (attempts happen in different processes)."""
    path = Path(marker)
    attempt = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempt))
    if attempt < succeed_on:
        raise Flaky(f"attempt {attempt}")
    return attempt


@app.task(max_retries=1)
def retry_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("1")
        raise RetryError()
    return "retried"


@app.task
def fan_out(n: int) -> int:
    """Waits for n sub-invocations from inside a task."""
    return sum(add.parallelize([(i, i) for i in range(n)]).results)


@app.task
def chain(depth: int) -> int:
    return 0 if depth == 0 else chain(depth - 1).result + 1


@app.task
def pid() -> int:
    return os.getpid()


@app.direct_task
def direct_mul(x: int, y: int) -> int:
    return x * y


class WeirdError(Exception):
    """A keyword-only constructor argument: rebuilt by the caller with its attributes."""

    def __init__(self, code: int, *, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@app.direct_task
def direct_weird(code: int, detail: str) -> None:
    raise WeirdError(code, detail=detail)


@app.task
def count_run(counter: str, seconds: float) -> str:
    """Appends a line to ``counter`` each time it starts (runs happen in several
    processes; one small O_APPEND write is atomic), then sleeps."""
    fd = os.open(counter, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, b"run\n")
    finally:
        os.close(fd)
    time.sleep(seconds)
    return counter
