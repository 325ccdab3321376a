"""``Celery``: Celery's application class whose tasks run on pynenc.

Everything about configuration is Celery's own (``conf`` with lower-case, old upper-case
and Django ``CELERY_`` names, ``config_from_object``, ``autodiscover_tasks``); tasks made by
:meth:`Celery.task` are compat tasks, and ``.pynenc`` is the pynenc app they run on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import celery
from celery import result as celery_result

from pynenc import Pynenc
from pynenc_celery_compat import registry
from pynenc_celery_compat.bridge import pynenc_app_for
from pynenc_celery_compat.result import AsyncResult
from pynenc_celery_compat.routing import routed_to_celery
from pynenc_celery_compat.task import Task, build_task


class Celery(celery.Celery):  # type: ignore[misc]
    """A Celery app whose tasks are pynenc tasks (``Celery("proj", broker=…, backend=…)``).

    ``broker`` (``broker_url``) is the kombu URL pynenc's broker uses; ``backend``
    (``result_backend``) chooses pynenc's state backend (see ``docs/celery.md``).
    """

    task_cls = "pynenc_celery_compat.task:Task"

    def __init__(self, main: str | None = None, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("task_cls", Task)
        super().__init__(main, *args, **kwargs)

    @property
    def pynenc(self) -> Pynenc:
        """The pynenc app this app's tasks run on (built from its settings on first use)."""
        return pynenc_app_for(self)

    def task(self, *args: Any, **options: Any) -> Any:
        """``@app.task`` / ``@app.task(**options)``: a compat task bound to this app."""

        def decorate(fun: Callable[..., Any]) -> Any:
            if str(options.get("name", "")).startswith("celery."):
                # Celery's built-in tasks (backend_cleanup, chord_unlock, …) stay Celery's
                return celery.Celery.task(
                    self, fun, **{"base": celery.Task, "lazy": False, **options}
                )
            options.pop("shared", None)
            options.pop("lazy", None)
            base = options.pop("base", None) or self.Task
            task = build_task(fun, self, base=base, **options)
            registry.register_on(self, task)
            return task

        if len(args) == 1 and callable(args[0]) and not options:
            return decorate(args[0])
        if args:
            raise TypeError("argument 1 to @task() must be a callable")
        return decorate

    def AsyncResult(
        self, id: str, backend: Any = None, task_name: str | None = None, **kwargs: Any
    ) -> Any:
        """The result of task call ``id`` (Celery's for a task switched back to Celery)."""
        task = self._tasks.get(task_name) if task_name else None
        if task is not None and routed_to_celery(task, self):
            # Celery's class (not ``super().AsyncResult``: a cached property that would
            # replace this method on the instance)
            return celery_result.AsyncResult(
                id, backend=backend, task_name=task_name, app=self, **kwargs
            )
        return AsyncResult(id, app=self, task_name=task_name, **kwargs)

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Call the task registered as ``name`` without importing it here.

        Celery's own ``send_task`` publishes for tasks that are not compat tasks, tasks
        switched back to Celery, and calls from Celery's ``Task.apply_async`` (``task_type``).
        """
        task = self.tasks.get(name)
        if (
            options.get("task_type") is not None
            or not isinstance(task, Task)
            or routed_to_celery(task, self)
        ):
            return super().send_task(name, args, kwargs, **options)
        options.pop("result_cls", None)
        options.pop("task_type", None)
        return task.apply_async(args, kwargs, **options)
