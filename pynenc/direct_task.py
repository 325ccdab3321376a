"""``@app.direct_task``: distribute a function while keeping a plain function's contract.

The wrapper returns the function's value (or raises its exception) and ``async def``
functions give an awaitable; the body runs on a runner. With ``parallel_func`` the call is
split into many invocations whose results ``aggregate_func`` combines.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from pynenc.arguments import Arguments
from pynenc.task import Task

ParallelFunc = Callable[[dict[str, Any]], Any]
AggregateFunc = Callable[[list[Any]], Any]

AGGREGATION_REQUIRED = "Aggregation function required for parallel execution"


def _split(
    task: Task[Any, Any], parallel_func: ParallelFunc, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Iterable[Any], dict[str, Any] | None]:
    """Ask ``parallel_func`` how to split this call: ``(param_iter, common_args)``.

    ``parallel_func`` receives the call's arguments by name and returns either the
    per-invocation parameters, or a ``(common_args, param_iter)`` pair.
    """
    named = Arguments.from_call(task.signature, args, kwargs).kwargs
    split = parallel_func(named)
    if (
        isinstance(split, tuple)
        and len(split) == 2
        and isinstance(split[0], dict)
        and isinstance(split[1], Iterable)
        and not isinstance(split[1], dict | tuple | Arguments)
    ):
        return split[1], split[0]
    return split, None


def make_direct_task(
    task: Task[Any, Any],
    parallel_func: ParallelFunc | None = None,
    aggregate_func: AggregateFunc | None = None,
) -> Callable[..., Any]:
    """The wrapper that stands for the function of ``task`` (declared and registered by
    :meth:`pynenc.app.Pynenc.create_task`, with its class and name)."""
    func = task.func
    conf = task.app.conf
    # In dev sync mode a call is a plain call of func, unless there is something to retry,
    # a run_start/run_end hook to fire, or a task class that changes how it runs or
    # retries: then it runs as a sync invocation like the others.
    cls = type(task)
    plain_run = cls.run_function is Task.run_function and cls.should_retry is Task.should_retry
    hooks = task.app.hooks
    wrapper: Callable[..., Any]

    if task.is_async:

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if parallel_func is not None:
                if aggregate_func is None:
                    raise ValueError(AGGREGATION_REQUIRED)
                param_iter, common = _split(task, parallel_func, args, kwargs)
                group = task.parallelize(param_iter, common)
                return aggregate_func([r async for r in group.async_results()])
            if (
                conf.dev_mode_force_sync_tasks
                and plain_run
                and not (task.conf.max_retries or hooks.run_start or hooks.run_end)
            ):
                return await func(*args, **kwargs)  # the fast path: exactly a plain call
            return await task(*args, **kwargs).async_result()

        wrapper = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            if parallel_func is not None:
                if aggregate_func is None:
                    raise ValueError(AGGREGATION_REQUIRED)
                param_iter, common = _split(task, parallel_func, args, kwargs)
                return aggregate_func(list(task.parallelize(param_iter, common).results))
            if (
                conf.dev_mode_force_sync_tasks
                and plain_run
                and not (task.conf.max_retries or hooks.run_start or hooks.run_end)
            ):
                return func(*args, **kwargs)  # the fast path: exactly a plain call
            return task(*args, **kwargs).result

        wrapper = sync_wrapper

    # instance attributes, so _extract_task_from_wrapper and Task.from_id find the task
    vars(wrapper).update(__pynenc_task__=task, __inner_function__=func)
    return wrapper
