"""What cancelling an invocation answers, and how a cancellation is described.

:class:`Cancellation` is returned by ``invocation.cancel()`` (distributed and sync) and by
``Orchestrator.cancel``; the ``pynenc cancel`` command prints its message. The stored side
(the compare-and-set to CANCELLED) is :mod:`pynenc.orchestrator.cancellation`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from pynenc.context import current_invocation
from pynenc.error_classes import build_error
from pynenc.exceptions import InvocationCancelledError
from pynenc.records import InvocationStatus


@dataclass(frozen=True, slots=True)
class Cancellation:
    """The answer to a cancel request; true when this request cancelled the invocation."""

    invocation_id: str
    #: this request moved it to CANCELLED (``False``: it had already finished)
    cancelled: bool
    #: its status now: CANCELLED, or the final status it already had
    status: InvocationStatus
    #: its status when the request found it (RUNNING, REGISTERED, …, or the final one)
    previous: InvocationStatus
    message: str

    def __bool__(self) -> bool:
        return self.cancelled


def default_canceller() -> str:
    """Who cancels, for the history: the running invocation, else this process."""
    running = current_invocation.get()
    here = f"pid {os.getpid()} on {socket.gethostname()}"
    return f"invocation {running.invocation_id} ({here})" if running is not None else here


def cancelled_error(
    invocation_id: str,
    task_id: str,
    by: str,
    at: float,
    reason: str | None,
    cls: type[Exception] = InvocationCancelledError,
) -> Exception:
    """The error a waiter of a cancelled invocation gets (stored with the CANCELLED status):
    ``cls``, the task class's ``cancelled_error`` (see :mod:`pynenc.error_classes`)."""
    when = dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")
    why = f": {reason}" if reason else ""
    message = f"Invocation {invocation_id} of task {task_id} was cancelled by {by} at {when}{why}"
    return build_error(
        cls,
        InvocationCancelledError,
        message,
        (by, at, reason, invocation_id),
        {"cancelled_by": by, "cancelled_at": at, "reason": reason, "invocation_id": invocation_id},
    )


def already_finished(invocation_id: str, task_id: str, status: InvocationStatus) -> Cancellation:
    """The answer for an invocation that had finished before the request: nothing changed."""
    return Cancellation(
        invocation_id,
        False,
        status,
        status,
        f"Invocation {invocation_id} of task {task_id} had already finished ({status.name}); "
        "nothing changed.",
    )


def cancelled_now(
    invocation_id: str, task_id: str, previous: InvocationStatus, how: str
) -> Cancellation:
    """The answer for an invocation this request cancelled (``how``: what happens next)."""
    return Cancellation(
        invocation_id,
        True,
        InvocationStatus.CANCELLED,
        previous,
        f"Cancelled invocation {invocation_id} of task {task_id} (was {previous.name}): {how}",
    )
