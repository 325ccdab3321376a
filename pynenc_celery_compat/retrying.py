"""``self.retry()`` on a pynenc runner, with Celery's rules for its arguments and options.

Celery's ``retry`` publishes a message with the running task's id, ``retries + 1`` and the
arguments it was given (the running call's otherwise), then raises ``Retry`` (``throw=True``)
or returns it (``throw=False``: the current run goes on and ends as it ends).

* ``throw=True`` is pynenc's retry of the same invocation. New arguments are serialized
  here, as a call serializes them (:func:`stored_arguments`); the runner stores them with
  the retry in one atomic step, so the retry, the scheduler (after a countdown) and
  recovery all send them.
* ``throw=False`` cannot share the id: on pynenc one id is one invocation, which ends with
  what the current run returns, and a run may call ``retry(throw=False)`` once per failed
  item. Each such retry is a **new call** of the task (:func:`retry_as_call`): a new id,
  ``retries + 1`` (``max_retries`` keeps counting), the running call's queue, priority,
  expiry and headers unless given, its parent the running invocation. It is a plain call:
  a canvas the running call belongs to does not wait for it.

Which arguments a retry runs with (:func:`retry_call`) follows Celery 5.7: the running
call's when none are given; given ``args`` alone, the running call's keyword arguments
stay unless a new positional argument now fills their parameter; given ``kwargs`` alone, the
running call's positional arguments stay, each replaced by a new keyword argument naming
its parameter.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from celery import _state
from celery.exceptions import Reject

from pynenc.call import Call
from pynenc_celery_compat.bridge import celery_app_of

logger = logging.getLogger("pynenc_celery_compat.retrying")

_P = inspect.Parameter


def retry_call(
    task: Any, request: Any, args: Any, kwargs: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` of the retry of the running ``request`` given ``retry(args=,
    kwargs=)`` (see the module docs)."""
    old_args = tuple(request.args or ())
    old_kwargs = dict(request.kwargs or {})
    if args is None and kwargs is None:
        return old_args, old_kwargs
    if kwargs is None:  # new positional arguments: the old keywords they fill go
        new_args = tuple(args)
        signature = _signature(task) if old_kwargs else None
        if signature is None:
            return new_args, old_kwargs
        positional = [
            p
            for p in signature.parameters.values()
            if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
        ]
        filled = {p.name for p in positional[: len(new_args)] if p.kind is _P.POSITIONAL_OR_KEYWORD}
        return new_args, {k: v for k, v in old_kwargs.items() if k not in filled}
    if args is None:  # new keyword arguments: one naming an old positional replaces it there
        new_kwargs = dict(kwargs)
        signature = _signature(task) if old_args else None
        if signature is None:
            return old_args, new_kwargs
        try:
            bound = signature.bind_partial(*old_args)
        except TypeError:  # the call is checked where it is sent
            return old_args, new_kwargs
        for name in list(new_kwargs):
            parameter = signature.parameters.get(name)
            if (
                name in bound.arguments
                and parameter is not None
                and (parameter.kind is _P.POSITIONAL_OR_KEYWORD)
            ):
                bound.arguments[name] = new_kwargs.pop(name)
        return tuple(bound.args), {**bound.kwargs, **new_kwargs}
    return tuple(args), dict(kwargs)


def _signature(task: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(task.run)
    except (TypeError, ValueError):
        return None


def stored_arguments(
    task: Any, invocation: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, str]:
    """The retry's arguments serialized as a call of ``task`` stores them (bound to its
    function by name; large ones in the client data store).

    :raises Reject: they do not fit the function, or cannot be serialized (Celery rejects
        the running task when the retry cannot be sent).
    :raises NotImplementedError: the invocation is a canvas step that receives the previous
        step's result (pynenc gives it to the step again on each attempt).
    """
    envelope = getattr(invocation, "_envelope", None)  # the running attempt's message
    links = getattr(envelope, "links", None)
    if links is not None and links.receive is not None:
        raise NotImplementedError(
            f"{task.name}[{invocation.invocation_id}]: retry(args=/kwargs=) of a canvas step "
            "that receives the previous step's result is not supported on pynenc runners "
            "(the step receives that result again on each attempt). Retry without args= "
            "and kwargs=, or call the task anew with the arguments you want"
        )
    adapter = invocation.task
    try:
        return Call(adapter, adapter.call_arguments(args, kwargs)).serialized_arguments
    except Exception as exc:
        raise Reject(exc, requeue=False) from exc


def retry_as_call(
    task: Any,
    request: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    eta: Any,
    countdown: float | None,
    options: dict[str, Any],
) -> Any:
    """Send the ``throw=False`` retry of the running ``request`` as a new call of ``task``;
    its ``AsyncResult``, or ``None`` when it could never start (its expiry would pass
    first: Celery's worker would revoke it; logged).

    :raises Reject: it could not be sent (Celery rejects the running task then).
    """
    record = request.stored_record()  # one read: the call's queue, priority and expiry
    sent: dict[str, Any] = {"retries": request.retries + 1, "queue": record.queue}
    if countdown is not None:
        sent["countdown"] = countdown
    if eta is not None:
        sent["eta"] = eta
    if record.priority is not None:
        sent["priority"] = record.priority
    if record.expires is not None:
        sent["expires"] = datetime.fromtimestamp(record.expires, UTC)
    headers = getattr(request, "headers", None)  # the caller's own (a canvas's left out)
    if headers:
        sent["headers"] = dict(headers)
    sent.update(options)  # the caller's options win, as in Celery
    try:
        if _never_starts(sent):
            logger.warning(
                "%s[%s]: retry(throw=False) not sent: it would be due after its expiry "
                "(%s), so it could never start (a Celery worker would revoke it)",
                task.name,
                request.id,
                sent["expires"],
            )
            return None
        with _current(celery_app_of(request.pynenc_invocation.app)):
            return task.apply_async(args, kwargs, **sent)
    except Exception as exc:
        raise Reject(exc, requeue=False) from exc


@contextlib.contextmanager
def _current(celery_app: Any) -> Iterator[None]:
    """``celery_app`` current in this thread meanwhile: the retry goes to the app that runs
    the task (Celery's ``retry`` sends through the task's own app), whichever app another
    imported module made current in this process (a shared task follows the current app)."""
    if celery_app is None:
        yield
        return
    previous = _state._tls.current_app
    _state._set_current_app(celery_app)
    try:
        yield
    finally:
        _state._set_current_app(previous)


def _never_starts(options: dict[str, Any]) -> bool:
    """Whether a call with ``options`` would be due at or after its (absolute) expiry."""
    expires = options.get("expires")
    if not isinstance(expires, datetime):
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    countdown, eta = options.get("countdown"), options.get("eta")
    if countdown:
        due = now.timestamp() + float(countdown)
    elif isinstance(eta, datetime):
        due = (eta if eta.tzinfo else eta.replace(tzinfo=UTC)).timestamp()
    else:
        due = now.timestamp()
    return due >= expires.timestamp()


__all__ = ["retry_as_call", "retry_call", "stored_arguments"]
