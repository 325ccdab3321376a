"""direct_task keeps a plain function's contract while the body runs on a runner."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

import pytest

from pynenc import Pynenc, Task
from pynenc.exceptions import TaskDefinitionError
from tests.apps import core


def test_returns_the_value(running_app: Pynenc) -> None:
    assert core.direct_add(1, 2) == 3
    assert core.direct_add(5) == 15  # default argument


def test_reraises_the_same_exception_class(running_app: Pynenc) -> None:
    with pytest.raises(KeyError, match="missing"):
        core.direct_fail("missing")


def test_async_gives_an_awaitable(running_app: Pynenc) -> None:
    coroutine = core.direct_async_add(2, 3)
    assert asyncio.iscoroutine(coroutine)
    assert asyncio.run(coroutine) == 5


def test_caller_side_concurrency(running_app: Pynenc) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(core.direct_add, range(8), range(8))) == [2 * i for i in range(8)]


def test_parallel_func_and_aggregate(running_app: Pynenc) -> None:
    assert core.squares(values=[1, 2, 3]) == [1, 4, 9]
    assert core.squares([4, 5]) == [16, 25]  # positional call: parallel_func still gets names
    assert len(running_app.state_backend.find(task_id="tests.apps.core.squares")) == 5


def test_parallel_func_common_args_form(running_app: Pynenc) -> None:
    assert core.scaled(values=[1, 2, 3], factor=10) == [10, 20, 30]


def test_async_parallel(running_app: Pynenc) -> None:
    assert asyncio.run(core.async_squares(values=[2, 3])) == [4, 9]


def test_missing_aggregate_raises_before_any_sub_call(core_app: Pynenc) -> None:
    with pytest.raises(ValueError, match=r"^Aggregation function required for parallel execution$"):
        core.no_aggregate(values=[1, 2])
    assert core_app.state_backend.find() == []


def test_wrapper_metadata() -> None:
    assert core.direct_add.__name__ == "direct_add"
    assert core.direct_add.__module__ == "tests.apps.core"
    assert core.direct_add.__wrapped__.__name__ == "direct_add"  # functools.wraps
    assert core.direct_add.__inner_function__ is core.direct_add.__wrapped__
    task = core.direct_add.__pynenc_task__
    assert isinstance(task, Task)
    assert task.task_id.key == "tests.apps.core.direct_add"
    assert Task.from_id(core.app, task.task_id) is task


def test_no_triggers_parameter() -> None:
    app = Pynenc(app_id="tests-direct-triggers")

    def report() -> None: ...

    report.__module__ = "tests.apps.core"
    report.__qualname__ = "report"
    with pytest.raises(TaskDefinitionError, match="does not accept triggers="):
        app.direct_task(triggers=["cron"])(report)


def test_sync_mode_is_a_plain_call(sync_app: Pynenc) -> None:
    assert core.direct_add(1, 2) == 3
    with pytest.raises(KeyError):
        core.direct_fail("x")
    assert asyncio.run(core.direct_async_add(1, 1)) == 2
    assert core.squares(values=[3]) == [9]
    assert sync_app.state_backend.find() == []  # no state writes


def test_direct_task_preserves_wraps_for_partial_inspection() -> None:
    # functools.wraps copies the docstring and annotations too
    assert core.direct_add.__annotations__ == core.direct_add.__wrapped__.__annotations__
    assert isinstance(core.direct_add, functools.partial) is False
