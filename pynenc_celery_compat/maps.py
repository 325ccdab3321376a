"""``task.map``, ``task.starmap`` and ``task.chunks`` on pynenc.

As in Celery, ``map``/``starmap`` are **one** call that runs the task inline over every
item, in order (Celery's ``celery.map``/``celery.starmap`` built-in tasks), and ``chunks``
splits the items into parts of ``n`` and sends one ``starmap`` call per part: its result
is a :class:`~pynenc_celery_compat.result.GroupResult` whose ``get()`` is a list of lists.

The signatures are this package's canvas classes (:mod:`pynenc_celery_compat.canvas`:
``xmap``, ``xstarmap``, ``chunks``), whose ``apply_async`` sends the built-in tasks below
through pynenc (:func:`send_mapped`); in a canvas they are steps calling them. Under eager
mode, or for a task switched back to Celery, Celery's own path runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import canvas, current_app

from pynenc_celery_compat import registry
from pynenc_celery_compat.bridge import celery_app_of
from pynenc_celery_compat.calling import send
from pynenc_celery_compat.eager import ensure_runner, wants_runner
from pynenc_celery_compat.routing import routed_to_celery
from pynenc_celery_compat.task import build_task


def _task_of(sig: Any, celery_app: Any) -> Any:
    """The task a mapped signature names, in ``celery_app``'s registry (as Celery's
    ``celery.map`` finds it in its worker's app); else this process's compat task of that
    name. Several Celery apps of one process may each have a task of that name."""
    name = sig["task"] if isinstance(sig, dict) else sig
    if celery_app is not None:
        found = celery_app.tasks.get(name)
        if found is not None:
            return found
    task = registry.get(name)
    if task is None:
        task = canvas.signature(sig, app=current_app).type
    return task


def _running_app(builtin: Any) -> Any:
    """The Celery app whose runner runs the built-in task ``builtin`` now (``None`` when it
    is not running on a pynenc runner)."""
    invocation = getattr(builtin.request, "pynenc_invocation", None)
    return None if invocation is None else celery_app_of(invocation.task.app)


def _builtin(name: str) -> Callable[[Callable[..., Any]], Any]:
    """A built-in compat task named ``name`` (its module attribute holds the task, so
    runners in other processes find it)."""

    def declare(fun: Callable[..., Any]) -> Any:
        task = build_task(fun, name=name)
        registry.add_builtin(task)
        return task

    return declare


@_builtin("celery.map")
def celery_map(task: dict[str, Any], it: list[Any]) -> list[Any]:
    """The task of ``task`` (a signature) called inline on each item, in order."""
    run = _task_of(task, _running_app(celery_map))
    return [run(item) for item in it]


@_builtin("celery.starmap")
def celery_starmap(task: dict[str, Any], it: list[Any]) -> list[Any]:
    """The task of ``task`` (a signature) called inline with each item's arguments."""
    run = _task_of(task, _running_app(celery_starmap))
    return [run(*item) for item in it]


MAP = celery_map
STARMAP = celery_starmap


def _pynenc_path(sig: Any, celery_app: Any) -> tuple[Any, Any] | None:
    """``(compat task, Celery app)`` when the mapped task runs on pynenc, else ``None``.

    The task is the one of ``celery_app`` (the app the map was made on), not whichever
    compat task of that name this process declared last."""
    if not isinstance(sig, dict):
        return None
    name = sig["task"]
    task = celery_app.tasks.get(name) if celery_app is not None else None
    if task is None:
        task = registry.get(name)
    if task is None or not registry.made_here(task):
        return None
    app = task._get_app()
    eager = app.conf.task_always_eager
    if (eager and not wants_runner(app)) or routed_to_celery(task, app):
        return None
    if eager:  # the in-process runner of an eager app (pynenc_celery_compat.eager)
        ensure_runner(app, MAP)
    return task, app


def _options(sig: Any, given: dict[str, Any]) -> dict[str, Any]:
    return {**sig.options, **{k: v for k, v in given.items() if v is not None}}


def send_mapped(sig: Any, builtin: Any, opts: dict[str, Any]) -> Any:
    """One call of ``builtin`` over the items of the map signature ``sig``; ``None`` when
    the mapped task does not run on pynenc (Celery's own path then)."""
    found = _pynenc_path(sig.kwargs["task"], sig._app)
    if found is None:
        return None
    star = builtin is STARMAP
    items = [list(i) for i in sig.kwargs["it"]] if star else list(sig.kwargs["it"])
    options = _options(sig, opts)
    task_id = options.pop("task_id", None)
    link, link_error = options.pop("link", None), options.pop("link_error", None)
    body = {"task": dict(sig.kwargs["task"]), "it": items}
    return send(builtin, found[1], (), body, task_id, link, link_error, options)


def __getattr__(name: str) -> Any:
    # the signature classes of map, starmap and chunks, by their former names here
    from pynenc_celery_compat import canvas

    found = {"TaskMap": canvas.xmap, "TaskStarmap": canvas.xstarmap, "TaskChunks": canvas.chunks}
    if name in found:
        return found[name]
    raise AttributeError(name)


__all__ = ["MAP", "STARMAP", "send_mapped"]
