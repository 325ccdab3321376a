"""Careless input to ``apply_async`` and to the task decorators: read as Celery reads it, or
refused with an error naming the option and how to write it.

Celery accepts a few spellings pynenc's :class:`~pynenc.call_options.CallOptions` does not
(a negative ``countdown`` runs at once, an ``expires`` of ``0`` or less revokes the call,
ISO 8601 strings for ``eta``/``expires``, ``task_id=""`` picks a new id); those are turned
into what Celery means. Values Celery would refuse, or would accept and then lose the call
or fail only when a retry comes (``args="12"``, ``queue=123``, ``max_retries="3"``,
``autoretry_for=KeyError``), are refused here, at the call or at the declaration.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


def call_values(name: str, args: Any, kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``apply_async``'s ``args``/``kwargs`` as a tuple and a dict; a string, a dict or a set
    given as ``args``, or a non-mapping as ``kwargs``, is a ``TypeError`` (Celery's too)."""
    if args is None:
        call_args: tuple[Any, ...] = ()
    elif isinstance(args, (list, tuple)):
        call_args = tuple(args)
    else:
        raise TypeError(
            f"{name}.apply_async(args={_short(args)}): args must be a list or tuple of the "
            f"positional arguments, got {type(args).__name__}; write args=({_short(args)},) "
            "for a single argument, or pass keyword arguments as kwargs={...}"
        )
    if kwargs is None:
        return call_args, {}
    if not isinstance(kwargs, Mapping):
        raise TypeError(
            f"{name}.apply_async(kwargs={_short(kwargs)}): kwargs must be a mapping of "
            f"argument names to values, got {type(kwargs).__name__}; write "
            "kwargs={'name': value}, or pass positional arguments as args=(...)"
        )
    return call_args, dict(kwargs)


def call_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with Celery's spellings of ``countdown``, ``eta``, ``expires``,
    ``queue`` and ``priority`` made plain (see the module docs), or a clear error."""
    checked = dict(options)
    countdown = options.get("countdown")
    if countdown is not None:
        seconds = _number(name, "countdown", countdown)
        checked["countdown"] = max(0.0, seconds)  # Celery: a time already past runs at once
    for option in ("eta", "expires"):
        value = options.get(option)
        if isinstance(value, str):
            checked[option] = _iso(name, option, value)
    expires = checked.get("expires")
    if expires is not None and not isinstance(expires, datetime):
        seconds = _number(name, "expires", expires)
        if seconds <= 0:  # Celery revokes it: a moment already past (see expiry)
            checked["expires"] = datetime.now(UTC) + timedelta(seconds=seconds - 1)
    queue = options.get("queue")
    if queue is not None and not _queue_like(queue):
        raise TypeError(
            f"{name}.apply_async(queue={queue!r}): queue must be a queue name (a string), a "
            "kombu Queue or a routing dict with a 'name'; with anything else the call would "
            "wait on a queue no worker consumes"
        )
    priority = options.get("priority")
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, numbers.Integral)
    ):
        raise TypeError(
            f"{name}.apply_async(priority={priority!r}): priority must be an integer, "
            "0 (lowest) to 9 (highest; up to 255 is accepted and counts as 9)"
        )
    return checked


def task_id(name: str, value: Any) -> str | None:
    """The caller's ``task_id``: ``""`` picks a new id (as Celery's ``task_id or uuid()``);
    a value that is not a string is a ``TypeError``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(
            f"{name}.apply_async(task_id={value!r}): task_id must be a string (e.g. "
            "str(uuid.uuid4())), got " + type(value).__name__
        )
    return value


def task_function(fun: Any) -> None:
    """Refuse what ``@shared_task``/``@app.task`` cannot make a task of: a class (a
    class-based task is a ``Task`` subclass registered with ``app.register_task``) or a
    lambda (no name a runner could import it by)."""
    if isinstance(fun, type):
        raise TypeError(
            f"the task decorator was applied to the class {fun.__qualname__}: it takes a "
            "function. For a class-based task, subclass pynenc_celery_compat.Task, define "
            "run(), and register an instance with app.register_task(MyTask())"
        )
    if getattr(fun, "__name__", None) == "<lambda>":
        raise TypeError(
            "the task decorator was applied to a lambda: a task needs a function defined "
            "with def at module level (runners import it by its name)"
        )


#: decorator options: the check of a value, and how to write it
_TASK_OPTIONS: dict[str, tuple[Any, str]] = {
    "max_retries": (lambda v: v is None or _count(v), "an integer >= 0, or None (for ever)"),
    "default_retry_delay": (lambda v: v is None or _seconds(v), "a number of seconds >= 0"),
    "retry_backoff": (
        lambda v: isinstance(v, bool) or _seconds(v),
        "True/False, or a number of seconds >= 0 (the first delay)",
    ),
    "retry_backoff_max": (lambda v: v is None or _seconds(v), "a number of seconds >= 0"),
    "retry_jitter": (lambda v: isinstance(v, bool), "True or False"),
    "retry_kwargs": (lambda v: isinstance(v, Mapping), "a dict, e.g. {'max_retries': 5}"),
    "autoretry_for": (
        lambda v: v is None or _exception_classes(v),
        "a tuple of exception classes, e.g. autoretry_for=(KeyError,)",
    ),
    "dont_autoretry_for": (
        lambda v: v is None or _exception_classes(v),
        "a tuple of exception classes, e.g. dont_autoretry_for=(KeyError,)",
    ),
    "time_limit": (lambda v: v is None or _seconds(v), "a number of seconds > 0, or None"),
    "soft_time_limit": (lambda v: v is None or _seconds(v), "a number of seconds > 0, or None"),
    "priority": (lambda v: v is None or _count(v), "an integer 0 (lowest) to 9 (highest)"),
    "expires": (
        lambda v: v is None or isinstance(v, datetime) or (_seconds(v) and v > 0),
        "a number of seconds > 0 or a datetime",
    ),
}


def task_options(fun: Any, options: dict[str, Any]) -> None:
    """Refuse a decorator option of the wrong type, which Celery would accept and then fail
    on (often only when a retry comes: ``max_retries="3"``, ``autoretry_for=KeyError``)."""
    for option, value in options.items():
        rule = _TASK_OPTIONS.get(option)
        if rule is not None and not rule[0](value):
            raise TypeError(
                f"task {getattr(fun, '__qualname__', fun)!r}: {option}={value!r} is not "
                f"valid; {option} must be {rule[1]}"
            )


def _seconds(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and float(value) >= 0
    )


def _count(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and int(value) >= 0


def _exception_classes(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(
        isinstance(item, type) and issubclass(item, BaseException) for item in value
    )


def _number(name: str, option: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(
            f"{name}.apply_async({option}={value!r}): {option} must be a number of seconds"
            + (" or a datetime" if option != "countdown" else "")
            + (" (a datetime goes in eta=)" if option == "countdown" else "")
        )
    return float(value)


def _iso(name: str, option: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{name}.apply_async({option}={value!r}): a string {option} must be an ISO 8601 "
            "date and time (e.g. '2030-01-31T12:00:00+00:00'); or pass a datetime"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _queue_like(queue: Any) -> bool:
    if isinstance(queue, str):
        return True
    if isinstance(queue, Mapping):
        return isinstance(queue.get("name"), str)
    return isinstance(getattr(queue, "name", None), str)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["call_options", "call_values", "task_function", "task_id", "task_options"]
