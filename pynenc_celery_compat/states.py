"""Celery's state names (``celery.states``), and how pynenc's statuses map onto them."""

from __future__ import annotations

from celery.states import (
    ALL_STATES,
    EXCEPTION_STATES,
    FAILURE,
    IGNORED,
    PENDING,
    PROPAGATE_STATES,
    READY_STATES,
    RECEIVED,
    REJECTED,
    RETRY,
    REVOKED,
    STARTED,
    SUCCESS,
    UNREADY_STATES,
    state,
)

from pynenc.records import InvocationStatus

#: pynenc status -> Celery state (RUNNING is STARTED only for ``track_started`` tasks, as
#: in Celery; see :func:`celery_state`).
STATE_OF_STATUS: dict[InvocationStatus, str] = {  # Celery's names are plain str
    InvocationStatus.REGISTERED: PENDING,
    InvocationStatus.SCHEDULED: PENDING,
    InvocationStatus.RUNNING: STARTED,
    InvocationStatus.RETRY: RETRY,
    InvocationStatus.REROUTED: PENDING,
    InvocationStatus.SUCCESS: SUCCESS,
    InvocationStatus.FAILED: FAILURE,
    InvocationStatus.EXPIRED: REVOKED,
    InvocationStatus.CANCELLED: REVOKED,
    # a canvas step waiting for the steps before it (Celery has not sent it yet)
    InvocationStatus.WAITING: PENDING,
    # a workflow stopped at wf.pause(): started, not ready (Celery has no pause)
    InvocationStatus.PAUSED: STARTED,
}


def celery_state(status: InvocationStatus, num_retries: int, track_started: bool) -> str:
    """Celery's name for an invocation in ``status`` after ``num_retries`` retries.

    A retried invocation waiting for its next attempt is ``RETRY`` (Celery keeps that state
    until the next attempt starts); a running one is ``STARTED`` only when the task tracks
    it, otherwise ``PENDING`` as in Celery.
    """
    if status is InvocationStatus.RUNNING:  # a retried attempt stays RETRY, as in Celery
        return str(STARTED if track_started else RETRY if num_retries else PENDING)
    if num_retries and status in _WAITING:
        return str(RETRY)
    return STATE_OF_STATUS[status]


_WAITING = frozenset(
    {InvocationStatus.REGISTERED, InvocationStatus.SCHEDULED, InvocationStatus.REROUTED}
)

__all__ = [
    "ALL_STATES",
    "EXCEPTION_STATES",
    "FAILURE",
    "IGNORED",
    "PENDING",
    "PROPAGATE_STATES",
    "READY_STATES",
    "RECEIVED",
    "REJECTED",
    "RETRY",
    "REVOKED",
    "STARTED",
    "SUCCESS",
    "UNREADY_STATES",
    "STATE_OF_STATUS",
    "celery_state",
    "state",
]
