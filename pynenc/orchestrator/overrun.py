"""An attempt past its hard time limit: recorded by its runner, under the retry rules.

The runner that gave up on the attempt (it killed the process, or stopped waiting for the
thread) records it as the owner: a :class:`~pynenc.exceptions.TaskTimeoutError` (or the
class the task's class names, ``Task.timeout_error``) that fails the invocation, or
retries it when the task's ``retry_for`` lists the error (or one of its bases, such as
``TimeoutError``) and ``max_retries`` allows. Either is a
compare-and-set on RUNNING under the runner: an invocation that finished or was cancelled
meanwhile keeps that outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynenc.error_classes import build_error
from pynenc.exceptions import TaskTimeoutError
from pynenc.invocation import log
from pynenc.orchestrator import admission
from pynenc.records import InvocationStatus
from pynenc.serializer import exception_to_payload

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker.envelope import Envelope


def record_overrun(
    app: Pynenc, envelope: Envelope, runner_id: str, limit: float, elapsed: float, done: str
) -> InvocationStatus | None:
    """Record that ``envelope``'s attempt ran past its ``limit`` (``done``: what the runner
    did about the work, for the error). Returns the status recorded (FAILED or RETRY), or
    ``None`` when the invocation had moved on (finished, cancelled, taken over)."""
    task = app.tasks.get(envelope.task_id)
    error = build_error(
        TaskTimeoutError if task is None else task.timeout_error,
        TaskTimeoutError,
        f"Invocation {envelope.invocation_id} of task {envelope.task_id} ran past its time "
        f"limit of {limit:g} s (task option timeout): {done}",
        (limit,),
        {"limit": limit},
    )
    payload = exception_to_payload(error)
    orchestrator = app.orchestrator
    if task is not None and task.start_policy is not None:  # before a retry is published
        admission.release(
            orchestrator, task.start_policy, envelope.invocation_id, envelope.arguments, runner_id
        )
    if task is not None and task.should_retry(error, envelope.num_retries):
        log.retried(envelope, elapsed, error, task.conf.max_retries)
        if orchestrator.retry(envelope, runner_id, payload):
            return InvocationStatus.RETRY
        return None
    log.failed(envelope, elapsed, error)
    orchestrator.note_endings([(envelope.invocation_id, envelope.task_id)])  # for triggers
    if orchestrator.finish(
        envelope.invocation_id, InvocationStatus.FAILED, runner_id, error=payload
    ):
        return InvocationStatus.FAILED
    return None
