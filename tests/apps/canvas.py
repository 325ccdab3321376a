"""Tasks for the composition tests (``pynenc.compose``) on real runners.

Runs are counted outside the runner: each counting task appends a line to a file named by
its argument (runs happen in several processes; one small ``O_APPEND`` write is atomic).

A test-only seam for the fault tests: with ``CANVAS_DIE_BEFORE_PUBLISH=1`` in its
environment, a runner process ``os._exit(9)``\\ s in the step after an invocation's final
write that released a follower, before publishing it (``publish_followers``), as a
runner killed at that moment would.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pynenc import Pynenc
from pynenc.invocation.base import BaseInvocation
from pynenc.records import InvocationStatus, Links
from pynenc.runner import followers

app = Pynenc(app_id="tests-canvas")


def count(path: str, line: str = "run") -> None:
    """Append ``line`` to the file ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def lines(path: str | Path) -> list[str]:
    """The lines appended to ``path`` (none when it does not exist)."""
    path = Path(path)
    return path.read_text().splitlines() if path.exists() else []


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def mul(x: int, y: int) -> int:
    return x * y


@app.task
def total(values: list[int]) -> int:
    return sum(values)


@app.task
def collect(values: list[Any], tag: str = "") -> list[Any]:
    """What it received (and a tag), to check a body's input exactly."""
    return [tag, values] if tag else values


@app.task
def const(value: Any) -> Any:
    return value


@app.task
def boom(x: Any, message: str = "boom") -> None:
    raise ValueError(f"{message} ({x})")


@app.task
def tally(x: int, counter: str, name: str) -> int:
    """Counts its run as ``name`` in ``counter``; ``x + 1``."""
    count(counter, name)
    return x + 1


@app.task
def gather(values: list[int], counter: str, name: str) -> int:
    """A counted chord body: the sum of what it received."""
    count(counter, name)
    return sum(values)


@app.task
def gated(x: int, gate: str, counter: str, name: str) -> int:
    """Counts its start as ``name``, then waits (up to two minutes) for the file ``gate``;
    ``x + 1``. A step a test holds while it looks at the rest of the composition."""
    count(counter, name)
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} never opened")
        time.sleep(0.01)
    return x + 1


class Flaky(Exception):
    """Raised by :func:`flaky_step` on its first attempts."""


@app.task(retry_for=(Flaky,), max_retries=3, retry_delay=0.2)
def flaky_step(x: int, counter: str, fail_times: int) -> int:
    """Fails ``fail_times`` times (counted in ``counter``; retried after a delay), then
    returns ``x + 1``."""
    count(counter, "attempt")
    if len(lines(counter)) <= fail_times:
        raise Flaky(f"attempt {len(lines(counter))}")
    return x + 1


@app.task(timeout=0.5)
def overrun(x: int, counter: str) -> int:
    """Runs past its hard time limit (0.5 s) by far."""
    count(counter, "overrun")
    time.sleep(3)
    return x


@app.task
def on_failure(failed: BaseInvocation[Any, Any], error: BaseException, counter: str) -> str:
    """An error callback: records which invocation failed and with what."""
    seen = f"{failed.invocation_id} {type(error).__name__}: {error}"
    count(counter, seen)
    return seen


def _die_before_publishing_released(
    app: Pynenc, invocation_id: str, links: Links, runner_id: str
) -> None:
    """The fault seam: die when the end of ``invocation_id`` released a follower."""
    released = [r for r in app.state_backend.get_many(list(links.then)) if r is not None]
    if any(r.status is InvocationStatus.SCHEDULED for r in released):
        os._exit(9)
    _publish_followers(app, invocation_id, links, runner_id)


_publish_followers = followers.publish_followers
if os.environ.get("CANVAS_DIE_BEFORE_PUBLISH") == "1":
    followers.publish_followers = _die_before_publishing_released
