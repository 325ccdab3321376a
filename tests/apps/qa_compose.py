"""Tasks for the hostile-user QA of native composition (``tests/integration/
test_qa_compose_*.py``): odd signatures, callbacks that fail, async and cached tasks,
controlled tasks. Runs are counted in files (as :mod:`tests.apps.canvas` does)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from pynenc import ConcurrencyControlType, Pynenc, RetryError
from pynenc.invocation.base import BaseInvocation
from tests.apps.canvas import count, lines

app = Pynenc(app_id="tests-qa-compose")
#: a second app, to mix apps in one composition
other = Pynenc(app_id="tests-qa-compose-other")

__all__ = ["count", "lines"]


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def scaled(x: int, factor: int = 10) -> int:
    return x * factor


@app.task
def total(values: list[int]) -> int:
    return sum(values)


@app.task
def tally(x: Any, counter: str, name: str) -> Any:
    """Counts its run as ``name`` in ``counter``; returns what it got."""
    count(counter, name)
    return x


@app.task
def no_args() -> int:
    """Takes nothing: cannot be a mutable chain step."""
    return 1


@app.task
def kw_only(*, value: int) -> int:
    """Takes only keyword arguments: cannot receive a value."""
    return value


@app.task
def var_args(*values: int) -> int:
    """Takes ``*values``: receives the value in the first of them."""
    return sum(values)


@app.task
def bad_errback(failed: BaseInvocation[Any, Any], error: BaseException, counter: str) -> None:
    """An error callback that fails itself."""
    count(counter, "bad_errback")
    raise RuntimeError(f"the errback failed too ({error})")


@app.task
def errback(failed: BaseInvocation[Any, Any], error: BaseException, counter: str) -> str:
    count(counter, f"errback {type(error).__name__}")
    return str(error)


@app.task
def boom(x: Any = None) -> None:
    raise ValueError(f"boom ({x})")


@app.task
async def async_add(x: int, y: int) -> int:
    await asyncio.sleep(0)
    return x + y


@app.task(call_result_cache=True)
def cached_tally(x: Any, counter: str) -> Any:
    """A cached task: counts each run."""
    count(counter, f"cached {x}")
    return x


def held(x: Any, counter: str, hold: float) -> Any:
    """Counts ``start x``, holds ``hold`` seconds, counts ``end x``; ``x``."""
    count(counter, f"start {x}")
    time.sleep(hold)
    count(counter, f"end {x}")
    return x


def overlapped(path: str) -> bool:
    """Whether two runs counted by :func:`held` in ``path`` overlapped."""
    running = 0
    for line in lines(path):
        running += 1 if line.startswith("start") else -1
        if running > 1:
            return True
    return False


@app.task(running_concurrency=ConcurrencyControlType.TASK)
def one_at_a_time(x: Any, counter: str, hold: float = 0.0) -> Any:
    """At most one running (across runners): :func:`held`."""
    return held(x, counter, hold)


@app.task(registration_concurrency=ConcurrencyControlType.TASK)
def registered_once(x: Any) -> Any:
    return x


@app.task
def gated(x: Any, gate: str, counter: str, name: str) -> Any:
    """Counts its start, then waits (two minutes at most) for the file ``gate``."""
    count(counter, name)
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} never opened")
        time.sleep(0.01)
    return x


@app.direct_task
def direct_add(x: int, y: int) -> int:
    return x + y


def _split_numbers(arguments: dict[str, Any]) -> list[tuple[int]]:
    return [(n,) for n in arguments["numbers"]]


@app.direct_task(parallel_func=_split_numbers, aggregate_func=sum)
def direct_sum(numbers: Any) -> int:
    """A split direct task: each invocation gets one number."""
    return int(numbers)


@other.task
def other_add(x: int, y: int) -> int:
    return x + y


@app.task(max_retries=3)
def retry_once(x: Any, counter: str) -> Any:
    """Asks for a retry (``RetryError(delay=0.2)``) on its first attempt; ``x``."""
    count(counter, "retry_once")
    if lines(counter).count("retry_once") == 1:
        raise RetryError("once more", delay=0.2)
    return x


@app.task(timeout=0.5)
def overrun(x: Any) -> Any:
    time.sleep(5)
    return x


@app.task
def slow(x: Any, seconds: float) -> Any:
    time.sleep(seconds)
    return x


@app.task(
    running_concurrency=ConcurrencyControlType.KEYS,
    key_arguments=("account",),
)
def per_account(account: str, counter: str) -> str:
    """At most one running per ``account``."""
    count(counter, f"account {account}")
    return account


@app.task(running_concurrency=ConcurrencyControlType.ARGUMENTS)
def per_arguments(x: Any, counter: str, hold: float = 0.5) -> Any:
    """At most one running per set of arguments: :func:`held`."""
    return held(x, counter, hold)


@app.task
def fail_if(x: Any, bad: Any) -> Any:
    """Raises ``ValueError`` when ``x == bad``; else ``x``."""
    if x == bad:
        raise ValueError(f"bad {x}")
    return x


@app.task(rate_limit="20/s")
def paced(x: Any, counter: str) -> Any:
    """At most 20 starts a second (across runners); counts each run with its time."""
    count(counter, f"{x} {time.time():.6f}")
    return x


@app.task
def unserializable(x: Any) -> Any:
    """Returns what no serializer takes."""
    return lambda: x
