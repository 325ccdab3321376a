"""One log line per invocation event, on the ``pynenc.invocation`` logger.

Lines read ``Task <task id>[<invocation id>] <event>``, the shape Celery workers print, so
logs can be grepped by task or by invocation. Started, succeeded and retried are INFO;
failed and rerouted are WARNING. A failure carries its traceback on the same WARNING line:
it is the line someone reads to find out why, failures are rare next to successes, and the
traceback is otherwise only in the state backend (``pynenc status``). A retry does not
carry it: the attempt that finally fails will.

The hot path stays cheap: INFO lines are guarded by ``isEnabledFor`` (no argument
formatting, no record when INFO is off) and read nothing from the backend.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pynenc.exceptions import InvocationCancelledError

if TYPE_CHECKING:
    from pynenc.broker.envelope import Envelope

logger = logging.getLogger("pynenc.invocation")
_INFO = logging.INFO


def _cancelled_here(exc: BaseException, envelope: Envelope) -> bool:
    """Whether ``exc`` is the cancellation of this very invocation (pynenc's error, or the
    task class's ``cancelled_error``, which carries the same attributes where it can)."""
    if getattr(exc, "invocation_id", None) != envelope.invocation_id:
        return False
    return isinstance(exc, InvocationCancelledError) or hasattr(exc, "cancelled_by")


def started(envelope: Envelope) -> None:
    """The runner starts running the invocation (after its claim)."""
    if logger.isEnabledFor(_INFO):
        if envelope.num_retries:
            logger.info(
                "Task %s[%s] started (retry %d)",
                envelope.task_id,
                envelope.invocation_id,
                envelope.num_retries,
            )
        else:
            logger.info("Task %s[%s] started", envelope.task_id, envelope.invocation_id)


def succeeded(envelope: Envelope, seconds: float) -> None:
    """The function returned and its result was encoded."""
    if logger.isEnabledFor(_INFO):
        logger.info(
            "Task %s[%s] succeeded in %.4f s", envelope.task_id, envelope.invocation_id, seconds
        )


def failed(envelope: Envelope, seconds: float, exc: BaseException) -> None:
    """The function raised and no retry is left: WARNING, with the traceback (none for an
    error the runner made: a time limit). A task that stopped because it was cancelled
    (``checkpoint()`` raised) is INFO: its status is CANCELLED, not FAILED."""
    if _cancelled_here(exc, envelope):
        logger.info(
            "Task %s[%s] stopped after %.4f s: it was cancelled",
            envelope.task_id,
            envelope.invocation_id,
            seconds,
        )
        return
    logger.warning(
        "Task %s[%s] failed in %.4f s: %s: %s",
        envelope.task_id,
        envelope.invocation_id,
        seconds,
        type(exc).__name__,
        exc,
        exc_info=exc if exc.__traceback__ is not None else None,
    )


def cannot_run(envelope: Envelope, exc: BaseException) -> None:
    """The invocation failed before its function could be called (task, arguments)."""
    logger.error("Task %s[%s] cannot run: %s", envelope.task_id, envelope.invocation_id, exc)


def retried(envelope: Envelope, seconds: float, exc: BaseException, max_retries: int) -> None:
    """The function raised and earns another try (logged before it is published again)."""
    if logger.isEnabledFor(_INFO):
        logger.info(
            "Task %s[%s] failed in %.4f s, retry %d/%d: %s: %s",
            envelope.task_id,
            envelope.invocation_id,
            seconds,
            envelope.num_retries + 1,
            max_retries,
            type(exc).__name__,
            exc,
        )


def rerouted(task_id: str, invocation_id: str, reason: str) -> None:
    """A running invocation was taken back from its runner and published again."""
    logger.warning("Task %s[%s] rerouted: %s", task_id, invocation_id, reason)


def reroutes_exhausted(task_id: str, invocation_id: str, reason: str) -> None:
    """A running invocation lost its runner once too often: it fails instead."""
    logger.warning("Task %s[%s] failed: %s", task_id, invocation_id, reason)


def expired(task_id: str, invocation_id: str, reason: str) -> None:
    """An invocation reached its expiry before it started: it never runs."""
    logger.warning("Task %s[%s] expired: %s", task_id, invocation_id, reason)


def held_back(task_id: str, invocation_id: str, reason: str) -> None:
    """A claimed invocation waits for a running slot or its rate start, out of the runner
    (INFO: under a limit this is the normal course, not a problem)."""
    if logger.isEnabledFor(_INFO):
        logger.info("Task %s[%s] held back: %s", task_id, invocation_id, reason)


def not_admitted(task_id: str, invocation_id: str, reason: str) -> None:
    """A claimed invocation fails without running: its running slot is taken and the task
    asks not to wait (``reroute_on_concurrency_control=False``)."""
    logger.warning("Task %s[%s] failed without running: %s", task_id, invocation_id, reason)
