"""``wrap_task``: run an existing Celery task on pynenc without editing it.

A project migrating a class-based task (``class ChargeTask(celery.Task)``) or a task made by
a real ``@app.task``/``@shared_task`` calls ``wrap_task`` once, where the worker and the
callers both import it (next to the app, after its tasks are imported)::

    from pynenc_celery_compat import wrap_task
    import billing.tasks

    wrap_task(billing.tasks.charge)  # made by @app.task: now calls through pynenc
    wrap_task(billing.tasks.RefundTask)  # a class: its instance, registered on the app

A task object becomes a compat task **in place**: its class is swapped for one deriving from
it and from :class:`~pynenc_celery_compat.Task` (its own methods still win), so every
reference to it (the module attribute, ``app.tasks[name]``, Celery's proxies) calls through
pynenc, with the same name, options, hooks and ``run``. A class gives a new instance,
registered on the app under the class's name, replacing an instance of it already there
(which is converted in place, so references to it follow). Switching back to Celery by
configuration (:mod:`pynenc_celery_compat.routing`) applies to wrapped tasks too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from celery import current_app
from celery.app import task as celery_task
from celery.app.autoretry import add_autoretry_behaviour
from celery.utils.imports import gen_task_name

from pynenc_celery_compat import registry
from pynenc_celery_compat.adapter import make_compat
from pynenc_celery_compat.task import Task, compat_base


def wrap_task(task: Any, app: Any = None) -> Task:
    """Make the Celery task ``task`` (an instance, a Celery proxy of one, or a
    ``celery.Task`` subclass) a compat task, and return it (module docs).

    :param app: the Celery app to register it on; default: the app the task belongs to
        (a class: the current app).
    :raises TypeError: ``task`` is not a Celery task or task class, or defines no ``run``.
    """
    if isinstance(task, type):
        return _wrap_class(task, app)
    resolve = getattr(task, "_get_current_object", None)
    if resolve is not None and not issubclass(type(task), celery_task.Task):
        task = resolve()  # a Celery proxy (lazy @app.task, shared_task): it poses as the task
    if not isinstance(task, celery_task.Task):
        raise TypeError(
            f"wrap_task() takes a Celery task (made by @app.task or @shared_task), or a "
            f"celery.Task subclass; got {task!r}"
        )
    converted = _convert(task)
    if app is not None:
        _register(app, converted)
    return converted


def _wrap_class(cls: type, app: Any) -> Task:
    if not issubclass(cls, celery_task.Task):
        raise TypeError(f"wrap_task() takes a celery.Task subclass; {cls!r} is not one")
    target = app if app is not None else current_app._get_current_object()
    name = getattr(cls, "name", None) or gen_task_name(target, cls.__name__, cls.__module__)
    existing = target._tasks.get(name)
    if isinstance(existing, cls):  # app.register_task(cls()) ran already: keep that object
        return _convert(existing)
    task: Task = compat_base(cls)()
    if not task.name:
        task.name = name
    add_autoretry_behaviour(task)
    converted = _convert(task)
    _register(target, converted)
    return converted


def _convert(task: Any) -> Task:
    """``task`` itself, made a compat task (nothing happens to one that already is)."""
    if registry.made_here(task):
        return task  # type: ignore[no-any-return]
    function, bound = _function_of(task)
    task.__class__ = compat_base(type(task))
    task._compat_bound = bound
    make_compat(task, function)
    return task  # type: ignore[no-any-return]


def _function_of(task: Any) -> tuple[Callable[..., Any], bool]:
    """The function ``task`` runs and whether it takes the task first (``bind=True``, or a
    ``run`` method of a class-based task)."""
    cls = type(task)
    run = inspect.getattr_static(cls, "run", None)
    decorated = getattr(cls, "_decorated_fun", None)
    if getattr(cls, "_decorated", False) and callable(decorated):  # @app.task/@shared_task
        return decorated, not isinstance(run, staticmethod)
    if isinstance(run, staticmethod):
        return run.__func__, False
    if run is None or run is inspect.getattr_static(celery_task.Task, "run"):
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} defines no run(): a class-based task "
            "implements run(self, ...) with the task's work"
        )
    if not inspect.isfunction(run):
        raise TypeError(f"{cls.__qualname__}.run must be a function, got {run!r}")
    return run, True


def _register(app: Any, task: Task) -> None:
    """Put ``task`` in ``app``'s registry under its name (replacing what was there) and
    bind it there, as Celery's ``register_task`` does."""
    if app._tasks.get(task.name) is task:
        return
    app._tasks[task.name] = task
    task._app = app
    task.bind(app)


__all__ = ["wrap_task"]
