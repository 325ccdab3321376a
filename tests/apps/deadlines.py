"""Tasks for the time-limit and cancellation tests (runners in other processes, or threads).

Each task gets a directory: it appends events to ``<directory>/events`` (``started <pid>``,
``cleaned up``, ``stopped``; one small O_APPEND write each, atomic across processes), and
the test releases a blocked task by creating ``<directory>/release``.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pynenc import Pynenc, SoftTimeoutExceeded, TaskTimeoutError

app = Pynenc(app_id="tests-deadlines")

#: hard limit (seconds) of the overrunning tasks; a process runner counts it from the fork,
#: so it must leave a child on a loaded machine time to start and note its pid
HARD = 3.0
SOFT = 0.5  #: soft limit (seconds) of soft_cleanup
LONG = 120.0  #: longest any blocked task waits


def note(directory: str, event: str) -> None:
    fd = os.open(Path(directory) / "events", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, f"{event}\n".encode())
    finally:
        os.close(fd)


def events(directory: str | Path) -> list[str]:
    path = Path(directory) / "events"
    return path.read_text().splitlines() if path.exists() else []


def started_pid(directory: str | Path) -> int | None:
    """The pid the task noted when it started (its process: a child, a worker, a runner)."""
    for event in events(directory):
        if event.startswith("started "):
            return int(event.split()[1])
    return None


def _blocked(directory: str) -> None:
    """Wait, never cooperating, until the test releases it (or ``LONG`` passes)."""
    release = Path(directory) / "release"
    deadline = time.monotonic() + LONG
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(timeout=HARD)
def overrun(directory: str) -> str:
    """Runs past its hard limit without ever looking at it."""
    note(directory, f"started {os.getpid()}")
    _blocked(directory)
    note(directory, "returned")
    return "late"


@app.task(timeout=HARD, retry_for=(TaskTimeoutError,), max_retries=1)
def overrun_once(directory: str) -> str:
    """The first attempt overruns; the retry (after TaskTimeoutError) returns."""
    first = not (Path(directory) / "events").exists()
    note(directory, f"started {os.getpid()}")
    if first:
        _blocked(directory)
        return "late"
    return "second attempt"


@app.task(soft_timeout=SOFT, timeout=60)
def soft_cleanup(directory: str, cooperative: bool) -> str:
    """Works past its soft limit; cleans up when told. ``cooperative``: it calls
    ``checkpoint()`` (thread runners); otherwise one long sleep (a ProcessRunner child is
    interrupted by the signal)."""
    note(directory, f"started {os.getpid()}")
    try:
        if cooperative:
            deadline = time.monotonic() + LONG
            while time.monotonic() < deadline:
                soft_cleanup.invocation.checkpoint()
                time.sleep(0.02)
        else:
            time.sleep(LONG)
    except SoftTimeoutExceeded:
        note(directory, "cleaned up")
        return "cleaned up"
    return "never told"


@app.task
def sleeper(directory: str) -> str:
    """Sleeps without cooperating: only a process runner can stop it."""
    note(directory, f"started {os.getpid()}")
    _blocked(directory)
    note(directory, "returned")
    return "slept"


@app.task
def cooperative(directory: str) -> str:
    """Loops, calling ``checkpoint()``: a thread runner's cancellation reaches it there."""
    note(directory, f"started {os.getpid()}")
    try:
        deadline = time.monotonic() + LONG
        while time.monotonic() < deadline:
            cooperative.invocation.checkpoint()
            time.sleep(0.02)
    finally:
        note(directory, "stopped")
    return "never cancelled"


@app.task
def cancels_itself(steps: int) -> int:
    """Cancels itself at step 2, then stops at the checkpoint that follows."""
    done = 0
    for step in range(steps):
        if step == 2:
            cancels_itself.invocation.cancel(reason="enough")
        cancels_itself.invocation.checkpoint()
        done += 1
    return done


@app.task(timeout=HARD, retry_for=(TaskTimeoutError,), max_retries=1)
def overrun_then_race(directory: str) -> str:
    """The first attempt overruns and returns (released) while the retry runs: the retry
    waits for it, then gives the late outcome time to land if it were recorded."""
    first = not (Path(directory) / "events").exists()
    note(directory, f"started {os.getpid()}")
    if first:
        _blocked(directory)
        note(directory, "first returned")
        return "first attempt"
    deadline = time.monotonic() + LONG
    while "first returned" not in events(directory) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    return "second attempt"


@app.task(soft_timeout=SOFT, timeout=60)
async def soft_async(directory: str) -> str:
    """An ``async def`` task awaiting past its soft limit: its coroutine is cancelled (and
    cleans up) and the attempt ends with SoftTimeoutExceeded."""
    note(directory, f"started {os.getpid()}")
    try:
        await asyncio.sleep(LONG)
    except asyncio.CancelledError:
        note(directory, "cleaned up")
        raise
    return "never told"


@app.task
def whoami() -> int:
    """The pid of the process that runs it (a pool worker: is it still the same one?)."""
    return os.getpid()


@app.task(soft_timeout=SOFT, timeout=60)
def soft_sleep(seconds: float) -> str:
    """One plain sleep past its soft limit: interrupted only where the limit is a signal."""
    try:
        time.sleep(seconds)
    except SoftTimeoutExceeded:
        return "soft limit caught"
    return "slept"


@app.task(soft_timeout=SOFT, timeout=60)
def soft_waits_on(directory: str) -> str:
    """Waits for another invocation (blocked until the test releases it) past its soft
    limit: the wait is interrupted, the task gives up on it."""
    note(directory, f"started {os.getpid()}")
    try:
        return sleeper(directory).result
    except SoftTimeoutExceeded:
        note(directory, "gave up waiting")
        return "gave up waiting"
