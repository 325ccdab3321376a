"""Tasks under running concurrency control and a rate limit, for
``tests/integration/test_running_concurrency.py``.

Each task stamps its start (and end) in a ``stamps`` file: one line per event, written with
a single ``O_APPEND`` write (atomic across processes): ``<event> <time> <pid> <label>``.
The gated ones then wait for a ``gate`` file, so a test holds a running slot while it
calls again, then lets them finish.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pynenc import ConcurrencyControlType, Pynenc

app = Pynenc(app_id="tests-running-limits")
C = ConcurrencyControlType


def stamp(stamps: str, event: str, label: str) -> None:
    line = f"{event} {time.time():.6f} {os.getpid()} {label}\n".encode()
    fd = os.open(stamps, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _wait_for(gate: str) -> None:
    deadline = time.monotonic() + 120
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


@app.task(running_concurrency=C.TASK)
def exclusive(stamps: str, label: str, seconds: float = 0.1) -> str:
    stamp(stamps, "start", label)
    time.sleep(seconds)
    stamp(stamps, "end", label)
    return label


@app.task(running_concurrency=C.KEYS, key_arguments=("account",), max_running_per_key=2)
def per_account(stamps: str, account: str, label: str, seconds: float = 0.2) -> str:
    stamp(stamps, "start", f"{account}:{label}")
    time.sleep(seconds)
    stamp(stamps, "end", f"{account}:{label}")
    return label


@app.task(running_concurrency=C.TASK)
def gated(stamps: str, gate: str, label: str) -> str:
    stamp(stamps, "start", label)
    _wait_for(gate)
    stamp(stamps, "end", label)
    return label


@app.task(running_concurrency=C.TASK, reroute_on_concurrency_control=False)
def no_wait(stamps: str, gate: str, label: str) -> str:
    stamp(stamps, "start", label)
    _wait_for(gate)
    stamp(stamps, "end", label)
    return label


@app.task
def plain(value: int) -> int:
    return value


@app.task(rate_limit="10/s")
def rated(stamps: str, label: str) -> str:
    stamp(stamps, "start", label)
    return label


@app.task(rate_limit="50/s")
def fast_rated(stamps: str, label: str) -> str:
    stamp(stamps, "start", label)
    return label


@app.task(running_concurrency=C.TASK, timeout=1.0)
def gated_limited(stamps: str, gate: str, label: str) -> str:
    """``gated`` with a hard time limit of 1 s."""
    stamp(stamps, "start", label)
    _wait_for(gate)
    stamp(stamps, "end", label)
    return label
