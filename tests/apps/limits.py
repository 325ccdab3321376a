"""Tasks under concurrency control, for ``tests/integration/test_registration_concurrency.py``.

Each task appends a line to a ``counter`` file when it starts (runs happen in several
processes; one small ``O_APPEND`` write is atomic) and then waits for a ``gate`` file, so
a test holds an invocation pending while it calls again, then lets it finish.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pynenc import ConcurrencyControlType, Pynenc

app = Pynenc(app_id="tests-limits")
C = ConcurrencyControlType


def _run(counter: str, gate: str) -> None:
    fd = os.open(counter, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, b"run\n")
    finally:
        os.close(fd)
    deadline = time.monotonic() + 120
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


@app.task(registration_concurrency=C.TASK)
def refresh(counter: str, gate: str, label: str) -> str:
    _run(counter, gate)
    return label


@app.task(registration_concurrency=C.ARGUMENTS)
def export(counter: str, gate: str, report: str) -> str:
    _run(counter, gate)
    return report


@app.task(
    registration_concurrency=C.KEYS,
    key_arguments=("account",),
    on_diff_non_key_args_raise=True,
)
def sync_account(counter: str, gate: str, account: str, note: str) -> str:
    _run(counter, gate)
    return f"{account}:{note}"


@app.task(registration_concurrency=C.KEYS, key_arguments=("account",))
def notify(counter: str, gate: str, account: str, note: str) -> str:
    _run(counter, gate)
    return f"{account}:{note}"


@app.direct_task(registration_concurrency=C.TASK)
def refresh_direct(counter: str, gate: str, label: str) -> str:
    _run(counter, gate)
    return label
