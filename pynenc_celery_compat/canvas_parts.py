"""The pieces of a Celery canvas the walk (:mod:`pynenc_celery_compat.canvas_plan`) reads:
signatures (a ``dict`` form rebuilt), the task a signature calls and whether it runs on
pynenc, and a step's call options from Celery's."""

from __future__ import annotations

import dataclasses
from typing import Any

from celery import canvas as celery_canvas

from pynenc_celery_compat import checks, registry
from pynenc_celery_compat.canvas_receive import MARK
from pynenc_celery_compat.routing import routed_to_celery
from pynenc_celery_compat.time_limits import check_time_limits

#: options that shape the canvas (or are Celery's bookkeeping), not one call's message
CANVAS_OPTIONS = frozenset(
    {
        "link",
        "link_error",
        "chord",
        "chain",
        "group_id",
        "group_index",
        "root_id",
        "parent_id",
        "reply_to",
        "task_id",
        "route_name",
        "add_to_parent",
        "stamped_headers",
        "producer",
        "publisher",
        "connection",
        "router",
        "result_cls",
        "interval",
        "max_retries",
        "body",
    }
)


def runs_on_pynenc(task: Any) -> bool:
    """Whether calls of ``task`` go to pynenc (made by this layer, not switched back)."""
    return registry.made_here(task) and not routed_to_celery(task, task._get_app())


def as_signature(value: Any, app: Any) -> Any:
    """``value`` as a signature (a dict is rebuilt as this package's class)."""
    if value is None or isinstance(value, celery_canvas.Signature):
        return value
    if isinstance(value, dict):
        from pynenc_celery_compat.canvas import signature

        return signature(value, app=app)
    raise TypeError(f"a canvas takes signatures (task.s(...), chain, group, chord), got {value!r}")


def task_of(sig: Any) -> Any:
    """The task a signature calls (by name in its app when it holds none).

    :raises TypeError: no such task is registered.
    """
    try:
        return sig.type
    except KeyError:
        found = registry.get(sig["task"])
        if found is not None:
            return found
        raise TypeError(
            f"{sig!r}: task {sig['task']!r} is not registered in this process; import the "
            "module that declares it"
        ) from None


def plain(options: dict[str, Any]) -> dict[str, Any]:
    """A call's own options: those shaping the canvas left out."""
    return {k: v for k, v in options.items() if k not in CANVAS_OPTIONS and v is not None}


def top(result: Any) -> Any:
    """The first result of ``result``'s ``parent`` links (the one without a parent)."""
    node = result
    while node.parent is not None:
        node = node.parent
    return node


def step_options(
    bridge: Any,
    task: Any,
    merged: dict[str, Any],
    task_id: str | None,
    call: tuple[tuple[Any, ...], dict[str, Any]],
    mark: dict[str, Any] | None,
) -> Any:
    """A step's :class:`~pynenc.call_options.CallOptions` from Celery's options (as
    :func:`pynenc_celery_compat.calling.send` maps them, ``bridge``'s ``task_routes``
    applied), with the canvas mark in its headers."""
    from pynenc_celery_compat.calling import _call_options, _celery_names

    check_time_limits(task.soft_time_limit, task.time_limit, "task")
    options = plain(merged)
    if task.expires is not None and "expires" not in options:
        options["expires"] = task.expires
    if options:
        check_time_limits(options.get("soft_time_limit"), options.get("time_limit"), "call")
        options = checks.call_options(task.name, options)
    if bridge.router is not None:
        from pynenc_celery_compat.routes import routed

        options = routed(bridge.router, task, call[0], call[1], options)
    try:
        found = _call_options(task, options, task_id)
    except (TypeError, ValueError) as error:
        raise type(error)(_celery_names(task.name, str(error))) from None
    if mark is None or found is None:
        return found
    headers = {**(found.headers or {}), MARK: mark}
    return dataclasses.replace(found, headers=headers)


__all__ = [
    "CANVAS_OPTIONS",
    "as_signature",
    "plain",
    "runs_on_pynenc",
    "step_options",
    "task_of",
    "top",
]
