"""A compat task run by a pynenc runner, the way a Celery worker runs it.

The request (``self.request``) is filled from the invocation; ``task_prerun``,
``task_success``/``task_failure``/``task_retry`` and ``task_postrun`` are sent with Celery's
keyword names; the task class's ``before_start``, ``on_success``, ``on_failure``,
``on_retry`` and ``after_return`` are called with Celery's arguments. A ``Retry`` (from
``self.retry()`` or autoretry) becomes pynenc's retry of the same invocation.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import signals, states
from celery._state import _task_stack
from celery.app.trace import task_has_custom
from celery.exceptions import Ignore, Reject, Retry

from pynenc.exceptions import RetryError

logger = logging.getLogger("pynenc_celery_compat.trace")

HOSTNAME = f"pynenc@{socket.gethostname()}"


def request_fields(
    task: Any, invocation: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``self.request`` of ``invocation`` on a runner: Celery's worker-side fields (those
    of a canvas, ``group``/``chord``/``callbacks``/``errbacks``/``chain``, stay ``None``)."""
    record = invocation._record()
    task_id = invocation.invocation_id
    headers = getattr(invocation, "headers", None)
    root_id = getattr(invocation, "root_id", None) or record.parent_id or task_id
    delivery_info = {
        "exchange": "",
        "routing_key": record.queue,
        "priority": record.priority,
        "redelivered": False,
    }
    return {
        "id": task_id,
        "task": task.name,
        "args": list(args),
        "kwargs": dict(kwargs),
        "retries": record.num_retries,
        "is_eager": False,
        "called_directly": False,
        "hostname": HOSTNAME,
        "delivery_info": delivery_info,
        "parent_id": record.parent_id,
        "root_id": root_id,
        "eta": _iso(record.due),
        "expires": _iso(record.expires),
        "headers": headers,
        "timelimit": [task.time_limit, task.soft_time_limit],
        "ignore_result": bool(task.ignore_result),
        "correlation_id": task_id,
        "reply_to": None,
        "origin": None,
        "lang": "py",
        "argsrepr": repr(tuple(args)),
        "kwargsrepr": repr(dict(kwargs)),
        "stamps": {},
        "properties": {
            "correlation_id": task_id,
            "delivery_info": {"exchange": "", "routing_key": record.queue},
            "priority": record.priority,
        },
        "pynenc_invocation": invocation,
    }


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def run_on_runner(task: Any, invocation: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``task`` for ``invocation`` with Celery's worker semantics (module docs)."""
    task_id = invocation.invocation_id
    fields = request_fields(task, invocation, args, kwargs)
    task.push_request(**fields)
    # Celery's Context gathers unknown fields as custom headers when headers is None
    task.request.headers = fields["headers"]
    _task_stack.push(task)
    state = states.SUCCESS
    retval: Any = None
    try:
        _send(
            signals.task_prerun, sender=task, task_id=task_id, task=task, args=args, kwargs=kwargs
        )
        try:
            task.before_start(task_id, args, kwargs)
            retval = body(task)(*args, **kwargs)
        except Retry as signal:
            state, retval = states.RETRY, signal
            einfo = ExceptionInfo()
            task.on_retry(signal.exc, task_id, args, kwargs, einfo)
            _send(signals.task_retry, sender=task, request=task.request, reason=signal, einfo=einfo)
            delay = getattr(signal, "pynenc_delay", None)
            raise RetryError(str(signal), delay=delay) from (signal.exc or signal)
        except Ignore as exc:
            state, retval = states.IGNORED, exc
            return None
        except Reject as exc:
            state, retval = states.REJECTED, exc
            raise
        except Exception as exc:
            state, retval = states.FAILURE, exc
            einfo = ExceptionInfo()
            task.on_failure(exc, task_id, args, kwargs, einfo)
            _send(
                signals.task_failure,
                sender=task,
                task_id=task_id,
                exception=exc,
                args=args,
                kwargs=kwargs,
                traceback=einfo.tb,
                einfo=einfo,
            )
            raise
        else:
            task.on_success(retval, task_id, args, kwargs)
            _send(signals.task_success, sender=task, result=retval)
        finally:
            try:
                task.after_return(state, retval, task_id, args, kwargs, None)
            except Exception:
                logger.exception("after_return of %s[%s] raised", task.name, task_id)
        return retval
    finally:
        _send(
            signals.task_postrun,
            sender=task,
            task_id=task_id,
            task=task,
            args=args,
            kwargs=kwargs,
            retval=retval,
            state=state,
        )
        _task_stack.pop()
        task.pop_request()


def body(task: Any) -> Any:
    """What a worker calls, as Celery's tracer decides: the task itself when its class
    defines ``__call__`` (a ``base=`` class wrapping every run, e.g. in an app context;
    see :class:`~pynenc_celery_compat.task.RunnerCall`), else ``run``."""
    return task if task_has_custom(task, "__call__") else task.run


def _send(signal: Any, **payload: Any) -> None:
    """Send ``signal`` (only when something listens: nothing is spent otherwise)."""
    if signal.receivers:
        signal.send(**payload)
