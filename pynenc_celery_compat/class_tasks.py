"""Class-based tasks (``app.register_task(MyTask())``) made compat tasks.

A class-based task has no decorated function: its ``run`` method is the body. It gets what
a decorated compat task holds: ``__inner_function__`` (a module-level stand-in for ``run``,
with ``run``'s signature, so calls are checked and runners find it by the task's name) and
``pynenc_task``. An object of a ``celery.Task`` subclass that is not a compat class is
wrapped first: an object of a class deriving from both, with the same attributes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from celery.app import task as celery_task

from pynenc_celery_compat import registry
from pynenc_celery_compat.adapter import make_compat
from pynenc_celery_compat.task import Task, compat_base


def as_compat_task(task: Any) -> Task:
    """``task`` (a ``celery.Task`` object or class) as a compat task object."""
    if inspect.isclass(task):
        task = task()
    if isinstance(task, Task):
        return task
    if not isinstance(task, celery_task.Task):
        raise TypeError(
            f"register_task() takes a celery.Task subclass or an object of one, got {task!r}"
        )
    compat: Any = compat_base(type(task))
    wrapped: Task = compat.__new__(compat)
    wrapped.__dict__.update(task.__dict__)
    return wrapped


def declare(task: Task) -> None:
    """Give a registered class-based ``task`` its ``__inner_function__`` and
    ``pynenc_task`` (a decorated task has them already)."""
    if registry.made_here(task):
        return
    make_compat(task, _run_stand_in(task))


def _run_stand_in(task: Task) -> Callable[..., Any]:
    """A function standing for ``task.run``: runners import the task's module and find the
    task by name; the function only carries the signature and the module."""
    run = task.run

    @functools.wraps(run)
    def run_stand_in(*args: Any, **kwargs: Any) -> Any:
        return run(*args, **kwargs)

    cls = type(task)
    run_stand_in.__module__ = cls.__module__
    run_stand_in.__name__ = cls.__name__
    # "<locals>" kept: such a task runs in this process only (see LocalCeleryTaskAdapter)
    local = "<locals>" in cls.__qualname__
    run_stand_in.__qualname__ = f"<locals>.{cls.__name__}" if local else cls.__name__
    run_stand_in.__signature__ = inspect.signature(run)  # type: ignore[attr-defined]
    del run_stand_in.__wrapped__
    return run_stand_in


__all__ = ["as_compat_task", "declare"]
