"""Every compat task of this process by name, and their registration on Celery apps."""

from __future__ import annotations

import threading
from typing import Any

from celery import _state

from pynenc_celery_compat import mixed

_tasks: dict[str, Any] = {}
_bind_lock = threading.Lock()
#: compat tasks of this package (``celery.map``, ``celery.starmap``): declared on every
#: pynenc app with the Celery app's own tasks (Celery's app registry holds Celery's)
_builtins: dict[str, Any] = {}


def made_here(task: Any) -> bool:
    """Whether ``task`` is a compat task this layer made (it holds its ``pynenc_task``).

    Celery's own decorators can build tasks of the compat class on a compat app (Celery's
    ``celery.ping`` of its test tooling, through ``shared_task``): those have no function
    and no pynenc task, and keep Celery's path (never declared on a pynenc app).
    """
    return "pynenc_task" in vars(task)


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
    mixed.install(app)  # a real Celery app's AsyncResult/control answer for compat calls


def share(task: Any) -> None:
    """Register a ``shared_task`` on every Celery app: finalized ones now, others when they
    finalize (as Celery's ``shared_task`` does)."""
    _state.connect_on_app_finalize(lambda app: register_on(app, task))
    for app in _state._get_active_apps():
        if app.finalized:
            with app._finalize_mutex:
                register_on(app, task)
        else:  # its results can be read before it finalizes (a web process polling ids)
            mixed.install(app)


def follow_current_app(task_class: Any) -> Any:
    """The current Celery app, with the shared task ``task_class`` bound to it (rebound
    when the current app changed: a test's fresh app, a project's real app).

    A thread with no current app of its own (a runner's thread) keeps the app the task is
    bound to, rather than Celery's fallback ``default`` app.
    """
    app = _state._tls.current_app
    if app is None:
        if task_class.__bound__ and task_class.__dict__.get("_app") is not None:
            return task_class._app
        app = _state.get_current_app()
    if task_class._app is not app or not task_class.__bound__:
        with _bind_lock:
            if task_class._app is not app or not task_class.__bound__:
                task_class.bind(app)
                mixed.install(app)
    return app


def forget_app_settings(task_class: Any) -> None:
    """Undo what binding to an app copied from its settings (``ignore_result``,
    ``store_eager_result``, …: the ``from_config`` attributes, and ``typing``) so that the
    next app's settings apply; options given to the decorator stay."""
    filled = task_class.__dict__.get("_compat_from_settings")
    if filled is None:  # first binding: remember which attributes the settings fill
        names = [attr for attr, _ in task_class.from_config] + ["typing"]
        task_class._compat_from_settings = tuple(
            name for name in names if getattr(task_class, name, None) is None
        )
        return
    for name in filled:
        if name in task_class.__dict__:
            delattr(task_class, name)
