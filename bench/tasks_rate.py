"""The task of ``bench/rate_limit.py``: stamps each start, under a global ``rate_limit``.

The rate comes from ``BENCH_RATE_LIMIT`` (default ``20/s``) so the bench process and the
runner processes it starts declare the same task.
"""

from __future__ import annotations

import os
import time

from pynenc import ConcurrencyControlType, Pynenc

app = Pynenc(app_id="bench-rate")


@app.task(rate_limit=os.environ.get("BENCH_RATE_LIMIT", "20/s"))
def stamp(path: str, seconds: float = 0.0) -> None:
    """Append the start time and this process's id to ``path`` (one atomic O_APPEND write),
    then take ``seconds`` (the body of a real task: a call to a rate-limited API)."""
    line = f"{time.time():.6f} {os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    if seconds:
        time.sleep(seconds)


@app.task(running_concurrency=ConcurrencyControlType.KEYS, key_arguments=("key",))
def one_per_key(path: str, key: str, seconds: float) -> None:
    """Stamp the start and the end (``start|end <time> <key>``), one run per ``key`` at a
    time across every runner, for ``bench/running_slots.py``."""
    _write(path, f"start {time.time():.6f} {key}\n")
    time.sleep(seconds)
    _write(path, f"end {time.time():.6f} {key}\n")


def _write(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
