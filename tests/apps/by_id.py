"""Tasks for the handle-from-an-id tests (module level: runners import them by name)."""

from __future__ import annotations

import threading

from pynenc import Pynenc, RetryError

app = Pynenc(app_id="tests-by-id", config_values={"runner": {"threads": 4}})

#: ``held(key)`` waits until ``RELEASE[key]`` is set (runner threads of this process)
RELEASE: dict[str, threading.Event] = {}
#: attempts per key of ``retried``
ATTEMPTS: dict[str, int] = {}


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def fail_with(message: str) -> None:
    raise ValueError(message)


@app.task(max_retries=2)
def retried(key: str) -> int:
    """Asks for a retry on its first attempt; returns the attempt that succeeded."""
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] == 1:
        raise RetryError()
    return ATTEMPTS[key]


@app.task
def held(key: str) -> str:
    if not RELEASE.setdefault(key, threading.Event()).wait(60):
        raise TimeoutError(f"{key} was never released")
    return key
