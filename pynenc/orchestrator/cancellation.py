"""Durable cancellation: CANCELLED stored in the state backend, honoured by every runner.

The canceller moves the invocation to CANCELLED in one compare-and-set that accepts every
status that is not final and checks no owner: a RUNNING invocation is cancelled by
whoever asks, as recovery acts for a dead runner, and the history entry names the
canceller and the reason. The cancellation error is stored in the same step, so a waiter
wakes (a final status) and gets :class:`~pynenc.exceptions.InvocationCancelledError`
(or the class its task's class names: ``Task.cancelled_error``).

What follows needs no further coordination, because every later move is a compare-and-set
that CANCELLED refuses:

* not started yet (REGISTERED, RETRY, REROUTED): the claim refuses it, so it never runs;
  a retry waiting to be published or a rerouted invocation is never published again
  (``Orchestrator.retry``/``reroute`` publish only after their own update was applied);
* running: the owner's outcome (success, failure, retry) is refused and logged at INFO.
  A runner that can stop the work does (a process runner kills the child: it reads the
  statuses of what it runs every ``runner.cancel_check_interval``); a thread runner cannot,
  and the task stops at its next cooperative check (``invocation.checkpoint()``);
* finished: nothing changes, and the answer says so.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pynenc.cancellation import (
    Cancellation,
    already_finished,
    cancelled_error,
    cancelled_now,
    default_canceller,
)
from pynenc.exceptions import InvocationCancelledError, PynencError
from pynenc.orchestrator import admission
from pynenc.orchestrator.transitions import SOURCES
from pynenc.records import InvocationStatus, StatusEntry, StatusUpdate
from pynenc.serializer import exception_to_payload

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.task import Task

logger = logging.getLogger("pynenc.orchestrator")
S = InvocationStatus

#: What a cancel expects to find: every status CANCELLED may follow (all unfinished ones).
CANCELLABLE = SOURCES[S.CANCELLED]

#: What happens to the work after a cancel, by the status it had.
_NEXT = {
    S.RUNNING: "its runner stops it (a process runner kills it; in a thread runner the task "
    "stops at its next invocation.checkpoint()), and its outcome will not be recorded.",
}
_NOT_STARTED = "it will not run."


def cancel(
    app: Pynenc, invocation_id: str, by: str | None = None, reason: str | None = None
) -> Cancellation:
    """Cancel ``invocation_id`` unless it has finished; says which happened.

    :param by: who cancels, for the history and the error (default: this process, or the
        running invocation when called inside a task).
    :param reason: why, for the history and the error.
    :raises InvocationNotFoundError: the state backend has no such invocation.
    """
    record = app.orchestrator.get_record(invocation_id)
    if record.status.is_final:
        return already_finished(invocation_id, record.task_id, record.status)
    actor = by or default_canceller()
    entry = StatusEntry(S.CANCELLED, time.time(), actor, reason)
    task = _task_of(app, record.task_id)
    error_cls = InvocationCancelledError if task is None else task.cancelled_error
    error = cancelled_error(
        invocation_id, record.task_id, actor, entry.timestamp, reason, error_cls
    )
    update = StatusUpdate(
        invocation_id,
        expected=CANCELLABLE,
        entry=entry,
        error=exception_to_payload(error),
    )
    app.orchestrator.note_endings([(invocation_id, record.task_id)])  # for its triggers
    if not app.state_backend.set_status(update):
        # it finished (or was cancelled by someone else) since it was read
        record = app.orchestrator.get_record(invocation_id)
        return already_finished(invocation_id, record.task_id, record.status)
    logger.info("Invocation %s of %s cancelled by %s", invocation_id, record.task_id, actor)
    if task is not None and task.start_policy is not None:
        # not RUNNING any more: its running slot goes to the next waiter (a thread runner's
        # body may run on until its next checkpoint), and a held-back one leaves the line
        admission.release(
            app.orchestrator, task.start_policy, invocation_id, record.arguments, actor
        )
    how = _NEXT.get(record.status, _NOT_STARTED)
    return cancelled_now(invocation_id, record.task_id, record.status, how)


def _task_of(app: Pynenc, task_key: str) -> Task[Any, Any] | None:
    """The task of a cancelled invocation, as a runner finds it (its class chooses the
    cancellation error), or ``None`` when this process cannot resolve it (pynenc's
    error then)."""
    task = app.tasks.get(task_key)
    if task is not None:
        return task
    try:
        return app.resolve_task(task_key)
    except PynencError:
        return None
