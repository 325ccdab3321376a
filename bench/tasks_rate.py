"""The task of ``bench/rate_limit.py``: stamps each start, under a global ``rate_limit``.

The rate comes from ``BENCH_RATE_LIMIT`` (default ``20/s``) so the bench process and the
runner processes it starts declare the same task.
"""

from __future__ import annotations

import os
import time

from pynenc import Pynenc

app = Pynenc(app_id="bench-rate")


@app.task(rate_limit=os.environ.get("BENCH_RATE_LIMIT", "20/s"))
def stamp(path: str) -> None:
    """Append the start time and this process's id to ``path`` (one atomic O_APPEND write)."""
    line = f"{time.time():.6f} {os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
