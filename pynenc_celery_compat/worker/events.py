"""Celery's worker-side signals, sent from pynenc's runner hooks.

Connected on every pynenc app built for a Celery app (:mod:`pynenc_celery_compat.bridge`).
The worker's life-cycle signals are sent for the runners of a
:class:`~pynenc_celery_compat.worker.Worker` (``pynenc-celery worker``, ``start_worker``);
``task_revoked`` by any runner of the app:

=========================  ====================================================================
signal                     sent
=========================  ====================================================================
``worker_init``            before the pool starts (sent by the worker itself)
``worker_process_init``    in each prefork worker process once the app and its task modules
                           are imported; in the worker's own process for ``-P solo``
``worker_ready``           once the runner serves
``worker_shutdown``        once the runner has stopped
``worker_process_shutdown`` in each prefork worker process as it stops
``task_revoked``           when a runner meets an invocation revoked (cancelled) or expired
                           before it started, or stops a running one that was revoked
=========================  ====================================================================

``sender`` is the :class:`~pynenc_celery_compat.worker.Worker` (Celery: the
``WorkController``; for ``worker_ready``, its consumer). A test worker
(``start_worker``) sends neither ``worker_ready`` nor ``worker_shutdown``, as Celery's test
worker does not. Nothing is spent when no handler is connected: each hook checks the
signal's receivers first.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import TYPE_CHECKING, Any

from celery import signals
from celery.app.task import Context

from pynenc.exceptions import PynencError
from pynenc.records import InvocationStatus
from pynenc_celery_compat import registry, trace

if TYPE_CHECKING:
    from pynenc import Pynenc
    from pynenc.broker import Envelope
    from pynenc.runner.base import BaseRunner

logger = logging.getLogger("pynenc_celery_compat.worker")

#: the attribute of a runner holding the Worker that started it
WORKER_ATTRIBUTE = "celery_worker"

#: set in a prefork worker process (its hostname): its runner is a pool child, not a worker
_pool_child: str | None = None


def mark_pool_child(hostname: str) -> None:
    """This process is a prefork worker process of worker ``hostname``."""
    global _pool_child
    _pool_child = hostname


def pool_child() -> str | None:
    """The worker hostname when this process is a prefork worker process, else ``None``."""
    return _pool_child


def connect(app: Pynenc) -> None:
    """Send Celery's worker signals from ``app``'s runners (connecting twice does nothing)."""
    hooks = app.hooks
    hooks.connect("runner_start", _runner_started)
    hooks.connect("runner_stop", _runner_stopped)
    hooks.connect("run_dropped", _run_dropped)


def worker_of(runner: BaseRunner) -> Any:
    """The :class:`Worker` that started ``runner``, or ``None``."""
    return getattr(runner, WORKER_ATTRIBUTE, None)


def send(sig: Any, **payload: Any) -> None:
    """Send ``sig`` when something listens (Celery's ``send`` logs a failing receiver)."""
    if sig.receivers:
        sig.send(**payload)


def _runner_started(runner: BaseRunner) -> None:
    if _pool_child is not None:
        return  # a prefork worker process: worker_process_init went out when it loaded
    worker = worker_of(runner)
    if worker is None:
        return  # not a worker (the eager mode's in-process runner, a script's runner)
    if worker.pool == "solo":  # Celery's solo pool sends it in the worker's own process
        send(signals.worker_process_init, sender=worker.hostname)
    if not worker.test_worker:
        send(signals.worker_ready, sender=worker)


def _runner_stopped(runner: BaseRunner) -> None:
    if _pool_child is not None:
        send(signals.worker_process_shutdown, sender=_pool_child, pid=os.getpid(), exitcode=0)
        return
    worker = worker_of(runner)
    if worker is not None and not worker.test_worker:
        send(signals.worker_shutdown, sender=worker)


def _run_dropped(
    runner: BaseRunner, envelope: Envelope, status: InvocationStatus, stopped: bool
) -> None:
    if not signals.task_revoked.receivers:
        return
    task = registry.get(envelope.task_id)
    if task is None:
        return  # a plain pynenc task of the same app
    from pynenc.runner.process import ProcessRunner

    killed = stopped and isinstance(runner, ProcessRunner)
    signals.task_revoked.send(
        sender=task,
        request=revoked_request(runner.app, task, envelope),
        terminated=stopped,
        signum=signal.SIGKILL if killed else None,
        expired=status is InvocationStatus.EXPIRED,
    )


def revoked_request(app: Pynenc, task: Any, envelope: Envelope) -> Context:
    """The request of a revoked ``envelope`` (Celery's ``Context``: id, task, args, …)."""
    args, kwargs = _arguments(app, envelope)
    return Context(
        id=envelope.invocation_id,
        task=task.name,
        args=args,
        kwargs=kwargs,
        retries=envelope.num_retries,
        parent_id=envelope.parent_id,
        root_id=envelope.parent_id or envelope.invocation_id,
        hostname=trace.HOSTNAME,
        is_eager=False,
        delivery_info={
            "exchange": "",
            "routing_key": envelope.queue,
            "priority": envelope.priority,
            "redelivered": False,
        },
    )


def _arguments(app: Pynenc, envelope: Envelope) -> tuple[list[Any], dict[str, Any]]:
    """The call's positional and keyword arguments (empty when they cannot be decoded)."""
    from pynenc.arguments import Arguments
    from pynenc.serializer import deserialize_arguments, get_serializer

    try:
        encoded = app.client_data_store.resolve(envelope.arguments)
        values = deserialize_arguments(get_serializer(envelope.serializer), encoded)
        pynenc_task = app.tasks.get(envelope.task_id)
        if pynenc_task is None:
            return [], dict(values)
        args, kwargs = Arguments(values).to_call(pynenc_task.signature)
    except PynencError:
        logger.warning("task_revoked for %s: its arguments cannot be decoded", envelope.task_id)
        return [], {}
    return list(args), dict(kwargs)
