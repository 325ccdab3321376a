"""Tasks of the scheduling tests: delays, ETAs, retries with backoff, expiry, chosen ids.

Runners in other processes count attempts in files (one line per attempt), so the test
process can read how often a body ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pynenc import Pynenc, RetryError

app = Pynenc(app_id="tests-scheduling")


def attempt(marker: str) -> int:
    """Record one attempt in ``marker``; how many there have been, this one included."""
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, b"x\n")
    finally:
        os.close(fd)
    return len(Path(marker).read_text().splitlines())


def attempts(marker: str) -> int:
    path = Path(marker)
    return len(path.read_text().splitlines()) if path.exists() else 0


@app.task
def started_at(tag: str) -> float:
    """When the body started (seconds since the epoch)."""
    return time.time()


@app.task
def block(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.task
def count_run(marker: str) -> int:
    return attempt(marker)


@app.task(max_retries=3, retry_delay=0.2, retry_backoff=2.0, retry_for=(ValueError,))
def flaky_backoff(marker: str, succeed_on: int) -> int:
    """Fails with ValueError until attempt ``succeed_on``: retries after 0.2, 0.4, 0.8 s."""
    number = attempt(marker)
    if number < succeed_on:
        raise ValueError(f"attempt {number}")
    return number


@app.task(max_retries=1)
def asks_for_delay(marker: str, delay: float) -> int:
    number = attempt(marker)
    if number == 1:
        raise RetryError(delay=delay)
    return number


@app.task(max_retries=5, retry_delay=30.0, retry_for=(ValueError,))
def fails_slowly(marker: str) -> None:
    attempt(marker)
    raise ValueError("no luck")


@app.direct_task
def direct_started_at() -> float:
    return time.time()


@app.task(max_retries=3, retry_delay=0.01, retry_backoff=1e15, retry_for=(ValueError,))
def steep_backoff(marker: str) -> None:
    """Its second retry would wait 1e13 s (300,000 years): more than a datetime holds."""
    attempt(marker)
    raise ValueError("steep")
