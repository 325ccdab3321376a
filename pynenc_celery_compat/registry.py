"""Every compat task of this process by name, and their registration on Celery apps."""

from __future__ import annotations

from typing import Any

from celery import _state

_tasks: dict[str, Any] = {}
#: compat tasks of this package (``celery.map``, ``celery.starmap``): declared on every
#: pynenc app with the Celery app's own tasks (Celery's app registry holds Celery's)
_builtins: dict[str, Any] = {}


def add(task: Any) -> None:
    """Remember ``task`` under its name (a re-declared task replaces the old one)."""
    _tasks[task.name] = task


def get(name: str) -> Any:
    """The compat task named ``name``, or ``None``."""
    return _tasks.get(name)


def add_builtin(task: Any) -> None:
    """Remember one of this package's built-in tasks (see ``_builtins``)."""
    _builtins[task.name] = task


def builtins() -> list[Any]:
    """This package's built-in compat tasks."""
    return list(_builtins.values())


def all_tasks() -> list[Any]:
    """Every compat task declared in this process."""
    return list(_tasks.values())


def register_on(app: Any, task: Any) -> None:
    """Put ``task`` in ``app``'s task registry (``app.tasks[name]``) unless a task of that
    name is there already."""
    registry = app._tasks
    if task.name not in registry:
        registry[task.name] = task


def share(task: Any) -> None:
    """Register a ``shared_task`` on every Celery app: finalized ones now, others when they
    finalize (as Celery's ``shared_task`` does)."""
    _state.connect_on_app_finalize(lambda app: register_on(app, task))
    for app in _state._get_active_apps():
        if app.finalized:
            with app._finalize_mutex:
                register_on(app, task)
