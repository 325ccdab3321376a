"""``apply_async`` through pynenc: Celery's calling options onto pynenc's call options."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from celery._state import _task_stack
from kombu.exceptions import OperationalError

from pynenc.call_options import CallOptions
from pynenc.exceptions import StateBackendUnavailableError
from pynenc_celery_compat import checks, expiry, publish
from pynenc_celery_compat.bridge import bridge_for
from pynenc_celery_compat.config import warn_once
from pynenc_celery_compat.result import AsyncResult
from pynenc_celery_compat.routes import routed

#: apply_async options that only mean something to a Celery broker: accepted, not used.
#: Not here: ``reply_to``, ``group_id`` and ``group_index``, which Celery's canvas code sets
#: on the calls it makes (ignored without a warning), ``add_to_parent`` (honoured), and
#: ``chain``/``chord`` (a canvas: see :func:`send`).
BROKER_ONLY = frozenset(
    {
        "exchange",
        "exchange_type",
        "routing_key",
        "delivery_mode",
        "compression",
        "mandatory",
        "immediate",
        "retry",
        "retry_policy",
        "connection",
        "producer",
        "stamped_headers",
        "time_limit",
        "soft_time_limit",
        "serializer",
    }
)


class CallUnavailableError(StateBackendUnavailableError, OperationalError):  # type: ignore[misc]
    """A call that could not be registered: the state backend stayed unreachable.

    Also kombu's ``OperationalError``, which Celery's ``delay()`` raises when its broker is
    down, so an ``except OperationalError:`` written for Celery catches it.
    """


def warn_unsupported(what: str, consequence: str) -> None:
    """Warn once that ``what`` is accepted but has no effect here (``consequence``)."""
    warn_once(f"pynenc_celery_compat: {what} is not supported: {consequence}")


def retry_delay(eta: Any, countdown: float | None, default: float | None) -> float:
    """Seconds until a retry may start: ``eta`` (a datetime), else ``countdown``, else the
    task's ``default_retry_delay``."""
    if eta is not None:
        when = eta if eta.tzinfo else eta.replace(tzinfo=UTC)
        seconds: float = (when - datetime.now(UTC)).total_seconds()
        return max(0.0, seconds)
    if countdown is not None:
        return max(0.0, float(countdown))
    return max(0.0, float(default or 0))


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def send(
    task: Any,
    app: Any,
    args: Any,
    kwargs: Any,
    task_id: str | None,
    link: Any,
    link_error: Any,
    options: dict[str, Any],
) -> AsyncResult:
    """Register and publish one call of ``task`` through pynenc; its :class:`AsyncResult`.

    With callbacks (``link``/``link_error``), or the rest of a chain that Celery's own
    ``chain`` class sends with its first task, the call is a canvas
    (:func:`pynenc_celery_compat.canvas_run.send_linked`)."""
    if link is not None or link_error is not None or options.get("chain") or options.get("chord"):
        from pynenc_celery_compat.canvas_run import send_linked

        return send_linked(task, app, args, kwargs, task_id, link, link_error, options)  # type: ignore[no-any-return]
    call_args, call_kwargs = checks.call_values(task.name, args, kwargs)
    task_id = checks.task_id(task.name, task_id)
    if options:
        options = checks.call_options(task.name, options)
    bridge = bridge_for(app)
    app = bridge.celery_app  # the app itself, not current_app: its result reads from it
    pynenc = bridge.pynenc
    pynenc_task = task.pynenc_task_for(pynenc)
    if bridge.router is not None:  # task_routes
        options = routed(bridge.router, task, call_args, call_kwargs, options)
    arguments = pynenc_task.call_arguments(call_args, call_kwargs)
    try:
        call_options = _call_options(task, options, task_id)
    except (TypeError, ValueError) as error:  # pynenc's checks, under Celery's names
        raise type(error)(_celery_names(task.name, str(error))) from None
    expired = expiry.never_starts(call_options)
    if expired:  # Celery revokes it: register it held, cancel it below
        existed = expiry.id_taken(pynenc, task_id)
        call_options = expiry.held(call_options)  # type: ignore[arg-type]
    announced = None
    if publish.wanted():  # only then: Celery's message for the handlers, with its id
        call_options = _with_id(call_options)
        queue = (call_options.queue if call_options else None) or pynenc_task.conf.queue
        announced = publish.publication(
            task,
            app,
            call_options.invocation_id or "",
            args,
            kwargs,
            options,
            queue,
        )
        announced.before()
    try:
        invocation = pynenc_task._call(arguments, call_options)
    except StateBackendUnavailableError as error:  # Celery's callers catch kombu's class
        raise CallUnavailableError(str(error)) from error
    if expired:
        expiry.revoke_unstarted(pynenc, invocation, existed)
    if announced is not None:
        announced.after()
    ignored = options.get("ignore_result", task.ignore_result)
    result = AsyncResult(
        invocation.invocation_id,
        app=app,
        task_name=task.name,
        invocation=invocation,
        ignored=bool(ignored),
    )
    if options.get("add_to_parent", True) and _any_task_running():
        parent = app.current_worker_task  # Celery's trail: the caller's request.children
        if parent is not None:
            parent.add_trail(result)
    return result


#: the per-thread storage of Celery's stack of running tasks (``None``: a stack of another
#: kind, e.g. with ``USE_FAST_LOCALS``), to skip Celery's lookup of the running task when no
#: thread of this process runs one (a web process calling tasks)
_TASK_STACKS: dict[Any, Any] | None = getattr(
    getattr(_task_stack, "_local", None), "__storage__", None
)


def _any_task_running() -> bool:
    """Whether a thread of this process may run a task (``False``: surely none does)."""
    return _TASK_STACKS is None or bool(_TASK_STACKS)


def _call_options(task: Any, options: dict[str, Any], task_id: str | None) -> CallOptions | None:
    if not options and task_id is None:  # a plain delay(): nothing to carry
        return None
    countdown = options.get("countdown")
    eta = options.get("eta")
    expires = options.get("expires")
    queue = options.get("queue")
    priority = options.get("priority")
    unknown = [name for name in options if name in BROKER_ONLY and options[name] is not None]
    for name in unknown:
        warn_unsupported(f"apply_async({name}=)", "ignored")
    if isinstance(queue, dict):  # a kombu Queue given as a dict, or routing output
        queue = queue.get("name")
    elif queue is not None and not isinstance(queue, str):
        queue = getattr(queue, "name", str(queue))
    headers = options.get("headers")
    retries = options.get("retries") or 0  # a retry sent as a new call (retrying.py)
    if (
        countdown is None
        and eta is None
        and expires is None
        and queue is None
        and (priority is None and task_id is None)
        and not headers
        and not retries
    ):
        return None
    delay = float(countdown) if countdown is not None else None
    if priority is not None:  # Celery's 0-255 (AMQP) onto pynenc's 0-9
        priority = min(max(int(priority), 0), 9)
    values = (delay, None if delay is not None else _aware(eta), _aware(expires), queue)
    return CallOptions(*values, priority, task_id, headers=headers or None, retries=retries)


def _celery_names(name: str, message: str) -> str:
    """A :class:`CallOptions` error as the ``apply_async`` option the caller wrote."""
    for pynenc_name, celery_name in (("delay", "countdown"), ("invocation_id", "task_id")):
        message = message.replace(f"with_options({pynenc_name}=", f"with_options({celery_name}=")
        message = message.replace(f"{pynenc_name} must", f"{celery_name} must")
    message = message.replace("CallOptions(", f"{name}.apply_async(")
    return message.replace("with_options(", f"{name}.apply_async(")


def _with_id(options: CallOptions | None) -> CallOptions:
    if options is None:
        return CallOptions(None, None, None, None, None, publish.new_task_id())
    if options.invocation_id is None:
        return dataclasses.replace(options, invocation_id=publish.new_task_id())
    return options


__all__ = [
    "CallUnavailableError",
    "retry_delay",
    "send",
    "warn_unsupported",
]
