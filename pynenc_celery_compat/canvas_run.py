"""Running a Celery canvas on pynenc: :func:`apply` (``apply_async`` of this package's
canvas classes), :func:`freeze`, and :func:`send_linked` (a task's ``apply_async`` with
callbacks, or the rest of a chain from Celery's own ``chain`` class).

The canvas is walked into pynenc steps (:mod:`pynenc_celery_compat.canvas_plan`) and
every step registered at once (:func:`pynenc.compose_run.submit_steps`). When the app
runs eagerly, or every task of the canvas takes Celery's path, the answer is
:data:`CELERY` and the caller runs Celery's own code; a canvas with tasks on both paths is
refused (:class:`MixedCanvasError`).
"""

from __future__ import annotations

from typing import Any

from celery import canvas as celery_canvas
from celery.utils.functional import maybe_list
from kombu.utils.uuid import uuid

from pynenc.exceptions import StateBackendUnavailableError
from pynenc_celery_compat import checks, publish
from pynenc_celery_compat.canvas_parts import as_signature, runs_on_pynenc, task_of, top
from pynenc_celery_compat.canvas_plan import At, CeleryLeaf, Walk
from pynenc_celery_compat.eager import ensure_runner, runs_eagerly, wants_runner
from pynenc_celery_compat.result import GroupResult

#: :func:`apply`/:func:`freeze` answer for a canvas whose tasks all take Celery's path
CELERY = object()


class MixedCanvasError(TypeError):
    """A canvas with tasks on pynenc and tasks switched back to Celery."""


def apply(sig: Any, args: Any, kwargs: Any, options: dict[str, Any]) -> Any:
    """Run ``sig`` (with partial ``args``/``kwargs`` and call ``options``) on pynenc: its
    Celery result; :data:`CELERY` when it runs eagerly or all its tasks take Celery's path.

    :raises MixedCanvasError: tasks on both paths.
    """
    app = sig.app
    if runs_eagerly(app):
        return CELERY
    walk = Walk(app, persist=False)
    call_args = tuple(args or ())
    try:
        _, result = walk.node(sig, At(), call_args, dict(kwargs or {}), dict(options))
    except CeleryLeaf:
        return celery_path(sig, app)
    if result is None:  # an empty group
        return GroupResult(sig.options.get("task_id") or uuid(), [], app=app)
    submit(walk, result)
    if isinstance(result, GroupResult) and len(result) == 1 and isinstance(result[0], GroupResult):
        return result[0]  # Celery's: group(a | group(b, c)) answers with b, c's result
    return result


def send_linked(
    task: Any,
    app: Any,
    args: Any,
    kwargs: Any,
    task_id: str | None,
    link: Any,
    link_error: Any,
    options: dict[str, Any],
) -> Any:
    """``task.apply_async(..., link=, link_error=)`` on pynenc: the call and its callbacks
    registered together; the call's result. Also the first task of a chain made by
    Celery's own ``chain`` class, which sends the rest of the chain with it (``chain=``,
    reversed): they are registered as this package's chain."""
    from pynenc_celery_compat.canvas import Signature, chain

    if options.get("chord") is not None:
        raise NotImplementedError(
            f"{task.name} was sent as a member of a chord's header by Celery's own chord "
            "class (celery.chord): a chord of compat tasks runs on pynenc only when built "
            "with this package's classes: from pynenc_celery_compat import chord (or "
            "group(...) | task.s())"
        )
    call_args, call_kwargs = checks.call_values(task.name, args, kwargs)
    own = {k: v for k, v in options.items() if k not in ("chain", "chord") and v is not None}
    own.update({"task_id": task_id, "link": link, "link_error": link_error})
    own = {k: v for k, v in own.items() if v is not None}
    sig = Signature(task, call_args, call_kwargs, options=own, app=app)
    rest = list(reversed(options.get("chain") or ()))
    if not rest:
        return apply(sig, (), {}, {})
    return top(apply(chain(sig, *rest), (), {}, {}))


def freeze(sig: Any, last_id: str | None) -> Any:
    """``sig.freeze()`` on pynenc: ids chosen and kept in the signatures (the run uses
    them); the Celery result. :data:`CELERY` as for :func:`apply`."""
    app = sig.app
    if runs_eagerly(app):
        return CELERY
    walk = Walk(app, persist=True)
    try:
        _, result = walk.node(sig, At(), last_id=last_id)
    except CeleryLeaf:
        return celery_path(sig, app)
    for action in walk.saves:
        action()
    return result


def celery_path(sig: Any, app: Any) -> Any:
    """:data:`CELERY` for a canvas whose tasks all take Celery's path.

    :raises MixedCanvasError: some of its tasks run on pynenc.
    """
    tasks = list(canvas_tasks(sig, app))
    on_pynenc = sorted({t.name for t in tasks if runs_on_pynenc(t)})
    if not on_pynenc:
        return CELERY
    on_celery = sorted({t.name for t in tasks if not runs_on_pynenc(t)})
    raise MixedCanvasError(
        f"this canvas has tasks on pynenc ({', '.join(on_pynenc)}) and tasks that take "
        f"Celery's path ({', '.join(on_celery)}: switched back to Celery, or made by "
        "Celery's own decorator). A canvas runs on one system: switch all of its tasks "
        "back (setting pynenc_celery_tasks) or none, or send the parts separately"
    )


def canvas_tasks(value: Any, app: Any) -> Any:
    """Every task a canvas calls, its callbacks' included."""
    sig = as_signature(value, app)
    if sig is None:
        return
    for key in ("link", "link_error"):
        for callback in maybe_list(sig.options.get(key)) or ():
            yield from canvas_tasks(callback, app)
    if isinstance(sig, celery_canvas._chord):
        header = sig.tasks
        for member in list(header.tasks if isinstance(header, celery_canvas.group) else header):
            yield from canvas_tasks(member, app)
        yield from canvas_tasks(sig.body, app)
    elif isinstance(sig, celery_canvas.group | celery_canvas._chain):
        for member in list(sig.tasks):
            yield from canvas_tasks(member, app)
    elif isinstance(sig, celery_canvas.chunks | celery_canvas._basemap):
        yield from canvas_tasks(sig.kwargs["task"], app)
    else:
        yield task_of(sig)


def submit(walk: Walk, result: Any) -> None:
    """Register every step (publishing the first ones); the caller's trail."""
    from pynenc.compose_run import submit_steps
    from pynenc_celery_compat.calling import CallUnavailableError

    walk.lineage.apply(walk.planner.steps)
    steps = list(walk.planner.steps.values())
    if not steps:
        return
    app = walk.celery_app
    if app.conf.task_always_eager and wants_runner(app):
        for task in walk.pynenc_tasks.values():
            ensure_runner(app, task)
    announced = announce(walk) if publish.wanted() else []
    try:
        submit_steps(walk.bridge.pynenc, steps)
    except StateBackendUnavailableError as error:
        raise CallUnavailableError(str(error)) from error
    for publication in announced:
        publication.after()
    parent = app.current_worker_task
    if parent is not None:
        parent.add_trail(result)


def announce(walk: Walk) -> list[Any]:
    """``before_task_publish`` for each step published now, as Celery's caller sends
    it for the first tasks of a canvas (those released later publish no signal)."""
    found = []
    for task, native, options in walk.published:
        call_options = native.options
        queue = (call_options.queue if call_options else None) or native.task.conf.queue
        step_id = call_options.invocation_id if call_options else None
        publication = publish.publication(
            task, walk.celery_app, step_id or "", native.args, native.kwargs, options, queue
        )
        publication.before()
        found.append(publication)
    return found


__all__ = ["CELERY", "MixedCanvasError", "apply", "freeze", "send_linked"]
