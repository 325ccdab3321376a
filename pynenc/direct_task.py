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
from pynenc.call_options import TaskWithOptions
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
    :meth:`pynenc.app.Pynenc.create_task`, with its class and name).

    The wrapper's ``with_options(delay=..., expires=..., ...)`` (see
    :meth:`Task.with_options <pynenc.task.Task.with_options>`) returns a wrapper of the same
    kind for calls with those options: it still returns the value (after the delay).
    """
    func = task.func
    wrapper = _wrap(task, task, parallel_func, aggregate_func)

    def with_options(**call_options: Any) -> Callable[..., Any]:
        bound = task.with_options(**call_options)  # checked now, not at the call
        bound_wrapper = _wrap(task, bound, parallel_func, aggregate_func)
        vars(bound_wrapper)["__pynenc_call__"] = bound  # for wf.execute_task
        return bound_wrapper

    def sig(*args: Any, **kwargs: Any) -> Any:
        """A call of the task not made yet, to compose (``task.sig``): its step's result
        is the function's value; a split call (``parallel_func``) cannot be one step."""
        if parallel_func is not None:
            raise TypeError(
                f"{task.task_id.key} is a direct_task with parallel_func: a call of it is "
                "split into many invocations, so it cannot be one step of a composition. "
                "Compose a task that takes one part (a group of its calls is the split)"
            )
        return task.sig(*args, **kwargs)

    # instance attributes, so _extract_task_from_wrapper and Task.from_id find the task
    vars(wrapper).update(
        __pynenc_task__=task, __inner_function__=func, with_options=with_options, sig=sig
    )
    return wrapper


def _wrap(
    task: Task[Any, Any],
    caller: Task[Any, Any] | TaskWithOptions[Any, Any],
    parallel_func: ParallelFunc | None,
    aggregate_func: AggregateFunc | None,
) -> Callable[..., Any]:
    """The wrapper calling ``caller`` (the task, or the task with call options)."""
    func = task.func
    conf = task.app.conf
    hooks = task.app.hooks
    # In dev sync mode a plain call (no call options) is a plain call of func, unless there
    # is something to retry, a run_start/run_end hook to fire, or a task class that changes
    # how it runs or retries: then it runs as a sync invocation like the others.
    cls = type(task)
    plain = caller is task and (
        cls.run_function is Task.run_function and cls.should_retry is Task.should_retry
    )

    if task.is_async:

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if parallel_func is not None:
                if aggregate_func is None:
                    raise ValueError(AGGREGATION_REQUIRED)
                param_iter, common = _split(task, parallel_func, args, kwargs)
                group = caller.parallelize(param_iter, common)
                return aggregate_func([r async for r in group.async_results()])
            if (
                plain
                and conf.dev_mode_force_sync_tasks
                and not (task.conf.max_retries or hooks.run_start or hooks.run_end)
            ):
                return await func(*args, **kwargs)  # the fast path: exactly a plain call
            return await caller(*args, **kwargs).async_result()

        return async_wrapper

    @functools.wraps(func)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        if parallel_func is not None:
            if aggregate_func is None:
                raise ValueError(AGGREGATION_REQUIRED)
            param_iter, common = _split(task, parallel_func, args, kwargs)
            return aggregate_func(list(caller.parallelize(param_iter, common).results))
        if (
            plain
            and conf.dev_mode_force_sync_tasks
            and not (task.conf.max_retries or hooks.run_start or hooks.run_end)
        ):
            return func(*args, **kwargs)  # the fast path: exactly a plain call
        return caller(*args, **kwargs).result

    return sync_wrapper
