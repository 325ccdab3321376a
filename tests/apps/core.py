"""Tasks used by the core tests (module level, importable: runners find them by name)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from pynenc import ConcurrencyControlType, Pynenc, RetryError

app = Pynenc(app_id="tests-core", config_values={"runner": {"threads": 4}})

#: How many times each key was attempted (retry tests); guarded by ATTEMPTS_LOCK.
ATTEMPTS: Counter[str] = Counter()
ATTEMPTS_LOCK = threading.Lock()


class FlakyError(Exception):
    """Raised by ``flaky`` until it has been attempted enough times."""


class NeedsTwoArgs(Exception):
    """An exception whose constructor needs more than ``args`` (rebuilt without it)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(registration_concurrency=ConcurrencyControlType.DISABLED)
def process(large_data: str, index: int) -> int:
    return len(large_data) + index


@app.task
def echo(value: Any) -> Any:
    return value


@app.task
def fail_with(message: str) -> None:
    raise ValueError(message)


@app.task
def fail_custom(code: int) -> None:
    raise NeedsTwoArgs(code, "custom")


def _attempt(key: str) -> int:
    with ATTEMPTS_LOCK:
        ATTEMPTS[key] += 1
        return ATTEMPTS[key]


@app.task(retry_for=(FlakyError,), max_retries=2)
def flaky(key: str, succeed_on: int) -> int:
    attempt = _attempt(key)
    if attempt < succeed_on:
        raise FlakyError(f"attempt {attempt}")
    return attempt


@app.task(max_retries=1)
def asks_retry(key: str) -> int:
    attempt = _attempt(key)
    if attempt == 1:
        raise RetryError()
    return attempt


@app.task
def sum_of_adds(n: int) -> int:
    """Waits for n sub-invocations from inside a task (nested waits)."""
    return sum(add.parallelize([(i, i) for i in range(n)]).results)


@app.task
def chain_depth(depth: int) -> int:
    """Each level waits for the next one: ``depth`` nested waits at once."""
    if depth == 0:
        return 0
    return chain_depth(depth - 1).result + 1


@app.task
def current_invocation_id() -> str:
    return current_invocation_id.invocation.invocation_id


@app.task
async def async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


@app.direct_task
def direct_add(x: int, y: int = 10) -> int:
    return x + y


@app.direct_task
def direct_fail(message: str) -> None:
    raise KeyError(message)


@app.direct_task
async def direct_async_add(x: int, y: int) -> int:
    await asyncio.sleep(0)
    return x + y


def _split_values(args: dict[str, Any]) -> list[tuple[list[int]]]:
    return [([v],) for v in args["values"]]


def _split_common(args: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return {"factor": args["factor"]}, [{"values": [v]} for v in args["values"]]


def _concat(chunks: list[list[int]]) -> list[int]:
    return [v for chunk in chunks for v in chunk]


@app.direct_task(parallel_func=_split_values, aggregate_func=_concat)
def squares(values: list[int]) -> list[int]:
    return [v * v for v in values]


@app.direct_task(parallel_func=_split_common, aggregate_func=_concat)
def scaled(values: list[int], factor: int) -> list[int]:
    return [v * factor for v in values]


@app.direct_task(parallel_func=_split_values)
def no_aggregate(values: list[int]) -> list[int]:
    return values


@app.direct_task(parallel_func=_split_values, aggregate_func=_concat)
async def async_squares(values: list[int]) -> list[int]:
    return [v * v for v in values]


#: Events that ``wait_gate`` blocks on, by name (tests open them).
GATES: dict[str, threading.Event] = {}
STARTED: dict[str, threading.Event] = {}


@app.task
def wait_gate(name: str) -> str:
    """Signals that it started, then waits until the test opens its gate."""
    STARTED.setdefault(name, threading.Event()).set()
    GATES.setdefault(name, threading.Event()).wait(30)
    return name
