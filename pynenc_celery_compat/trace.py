"""A compat task run by a pynenc runner, the way a Celery worker runs it.

The request (``self.request``) is filled from the invocation; ``task_prerun``,
``task_success``/``task_failure``/``task_retry`` and ``task_postrun`` are sent with Celery's
keyword names; the task class's ``before_start``, ``on_success``, ``on_failure``,
``on_retry`` and ``after_return`` are called with Celery's arguments. A ``Retry`` (from
``self.retry()`` or autoretry) becomes pynenc's retry of the same invocation, with the new
arguments ``retry(args=, kwargs=)`` gave (:mod:`pynenc_celery_compat.retrying`).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import signals, states
from celery._state import _task_stack
from celery.app.task import Context
from celery.app.trace import task_has_custom
from celery.exceptions import Ignore, Reject, Retry

from pynenc.exceptions import RetryError
from pynenc.workflow.signals import WorkflowSignal
from pynenc_celery_compat import outcomes

logger = logging.getLogger("pynenc_celery_compat.trace")

HOSTNAME = f"pynenc@{socket.gethostname()}"


def request_fields(
    task: Any, invocation: Any, args: Sequence[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``self.request`` of ``invocation`` on a runner (Celery's worker-side fields) from what
    the runner has in hand; :class:`RunnerRequest` adds those of the stored record."""
    fields = {
        "id": invocation.invocation_id,
        "task": task.name,
        "args": list(args),
        "kwargs": dict(kwargs),
        "retries": invocation.num_retries,  # the attempt's, from its message: no read
        "is_eager": False,
        "called_directly": False,
        "hostname": HOSTNAME,
        "parent_id": invocation.parent_id,
        "root_id": getattr(invocation, "root_id", None)
        or invocation.parent_id
        or invocation.invocation_id,
        "timelimit": [task.time_limit, task.soft_time_limit],
        "ignore_result": bool(task.ignore_result),
        "correlation_id": invocation.invocation_id,
        "reply_to": None,
        "origin": None,
        "lang": "py",
        "argsrepr": repr(tuple(args)),
        "kwargsrepr": repr(dict(kwargs)),
        "stamps": {},
        "pynenc_invocation": invocation,
    }
    headers = getattr(invocation, "headers", None)
    if headers is not None:  # otherwise Celery's default (None)
        from pynenc_celery_compat.canvas_lineage import request_lineage
        from pynenc_celery_compat.canvas_receive import MARK, visible_headers

        mark = headers.get(MARK)
        if mark:  # a canvas step: where Celery's canvas puts it
            fields.update(request_lineage(mark, invocation.parent_id))
        headers = visible_headers(headers)  # a canvas step's own entry left out
        if headers is not None:
            fields["headers"] = headers
    return fields


def _from_record(name: str, read: Callable[[Any], Any]) -> property:
    """A request field computed from the invocation's stored record when first read."""

    def get(request: RunnerRequest) -> Any:
        found = request.__dict__
        if name not in found:
            found[name] = read(request.stored_record())
        return found[name]

    def set_(request: RunnerRequest, value: Any) -> None:
        request.__dict__[name] = value

    return property(get, set_)


class RunnerRequest(Context):  # type: ignore[misc]
    """``self.request`` on a pynenc runner.

    Built straight from :func:`request_fields` (Celery's ``Context`` would scan them for
    custom headers and count ``pynenc_invocation`` as one). ``delivery_info``, ``eta`` and
    ``expires`` are only in the stored record: read from the state backend when a task
    first looks at one of them, so a task that does not costs no extra round trip.
    """

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)

    def stored_record(self) -> Any:
        """The invocation's record, read once."""
        found = self.__dict__
        if "_pynenc_record" not in found:
            found["_pynenc_record"] = found["pynenc_invocation"]._record()
        return found["_pynenc_record"]

    delivery_info = _from_record(
        "delivery_info",
        lambda record: {
            "exchange": "",
            "routing_key": record.queue,
            "priority": record.priority or 0,  # as kombu on Redis: 0 when unset
            "redelivered": False,
        },
    )
    eta = _from_record("eta", lambda record: _iso(record.due))
    expires = _from_record("expires", lambda record: _iso(record.expires))
    properties = _from_record(
        "properties",
        lambda record: {
            "correlation_id": record.invocation_id,
            "delivery_info": {"exchange": "", "routing_key": record.queue},
            "priority": record.priority,
        },
    )


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat()


#: states after which Celery does not call ``after_return`` (nor count the attempt as done);
#: STARTED: a pynenc workflow's attempt that paused or continued as new
_NO_AFTER_RETURN = frozenset({states.RETRY, states.IGNORED, states.REJECTED, states.STARTED})


def run_on_runner(task: Any, invocation: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """Run ``task`` for ``invocation`` with Celery's worker semantics (module docs)."""
    task_id = invocation.invocation_id
    request = RunnerRequest(request_fields(task, invocation, args, kwargs))
    task.request_stack.push(request)
    _task_stack.push(task)
    state = states.SUCCESS
    retval: Any = None
    # hooks and signals see the arguments as a worker does: a list, as the message held them
    message_args = list(args)
    try:
        _send(
            signals.task_prerun,
            sender=task,
            task_id=task_id,
            task=task,
            args=message_args,
            kwargs=kwargs,
        )
        try:
            started = time.monotonic()
            task.before_start(task_id, message_args, kwargs)
            retval = body(task)(*args, **kwargs)
        except Retry as signal:
            state, retval = states.RETRY, signal
            einfo = ExceptionInfo()
            outcomes.publish_retry(invocation, signal.exc)
            task.on_retry(signal.exc, task_id, message_args, kwargs, einfo)
            _send(signals.task_retry, sender=task, request=task.request, reason=signal, einfo=einfo)
            delay = getattr(signal, "pynenc_delay", None)
            retry = RetryError(str(signal), delay=delay)
            # new arguments (retry(args=/kwargs=)), serialized: stored with the retry
            retry.retry_arguments = getattr(signal, "pynenc_arguments", None)
            raise retry from (signal.exc or signal)
        except WorkflowSignal:  # a workflow paused or continued as new: not over
            state = states.STARTED  # as its AsyncResult says (Celery has no pause)
            raise
        except Ignore as exc:
            state, retval = states.IGNORED, exc
            return outcomes.IGNORED
        except Reject as exc:
            state, retval = states.REJECTED, exc
            raise
        except Exception as exc:
            state, retval = states.FAILURE, exc
            einfo = ExceptionInfo()
            task.on_failure(exc, task_id, message_args, kwargs, einfo)
            _send(
                signals.task_failure,
                sender=task,
                task_id=task_id,
                exception=exc,
                args=message_args,
                kwargs=kwargs,
                traceback=exc.__traceback__,
                einfo=einfo,
            )
            raise
        else:
            _after_success(task, retval, task_id, message_args, kwargs)
            runtime = time.monotonic() - started
            _send(signals.task_success, sender=task, result=retval, runtime=runtime)
        finally:
            if state not in _NO_AFTER_RETURN:
                try:
                    task.after_return(state, retval, task_id, message_args, kwargs, None)
                except Exception:
                    logger.exception("after_return of %s[%s] raised", task.name, task_id)
        return retval
    finally:
        _send(
            signals.task_postrun,
            sender=task,
            task_id=task_id,
            task=task,
            args=message_args,
            kwargs=kwargs,
            retval=retval,
            state=state,
        )
        _keep_children(request, invocation)
        _task_stack.pop()
        task.pop_request()


def _after_success(
    task: Any, retval: Any, task_id: str, args: list[Any], kwargs: dict[str, Any]
) -> None:
    """``on_success``; an error it raises is logged and the task stays successful (as on a
    Celery worker: its outcome is decided), but ``Reject`` still rejects it."""
    try:
        task.on_success(retval, task_id, args, kwargs)
    except Reject:
        raise
    except Exception:
        logger.exception("on_success of %s[%s] raised", task.name, task_id)


def _keep_children(request: RunnerRequest, invocation: Any) -> None:
    children = request.__dict__.get("_children")  # set only if the task made calls
    if children:
        backend = invocation.task.app.state_backend
        outcomes.store_children(backend, invocation.invocation_id, children)


#: per task class, whether it defines its own ``__call__`` (Celery's tracer decides it once
#: per task too, when the worker builds the task's tracer)
_CUSTOM_CALL: dict[type, bool] = {}


def body(task: Any) -> Any:
    """What a worker calls, as Celery's tracer decides: the task itself when its class
    defines ``__call__`` (a ``base=`` class wrapping every run, e.g. in an app context;
    see :class:`~pynenc_celery_compat.task.RunnerCall`), else ``run``."""
    cls = type(task)
    custom = _CUSTOM_CALL.get(cls)
    if custom is None:
        custom = _CUSTOM_CALL[cls] = bool(task_has_custom(task, "__call__"))
    return task if custom else task.run


def _send(signal: Any, **payload: Any) -> None:
    """Send ``signal`` (only when something listens: nothing is spent otherwise)."""
    if signal.receivers:
        signal.send(**payload)
