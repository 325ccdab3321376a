"""One attempt of an invocation on a runner: its time limits, and who records its outcome.

A runner that enforces a limit (or stops cancelled work) makes an :class:`Attempt` for each
run and sets :data:`current_attempt` in the thread that runs the task. Two parties may then
want to record the attempt's outcome: the task's body when it returns, and the runner when
it gives up on the body (hard time limit, cancellation). :meth:`Attempt.settle` lets
exactly one of them: a thread the runner gave up on may finish long after, and its late
outcome is discarded before it reaches the backend — it could otherwise land on a later
attempt of the same invocation (a retry claimed by the same runner).

Runs without limits have no attempt: nothing here is on their path.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pynenc.error_classes import build_error
from pynenc.exceptions import SoftTimeoutExceeded

if TYPE_CHECKING:
    from pynenc.broker.envelope import Envelope

logger = logging.getLogger("pynenc.runner")

#: The attempt running in this thread, when its runner made one (``None`` otherwise).
current_attempt: ContextVar[Attempt | None] = ContextVar("pynenc_current_attempt", default=None)

BODY = "body"  #: :meth:`Attempt.settle` by the task's body: its outcome is recorded


class Attempt:
    """One run of an invocation: limits in seconds, deadlines on the monotonic clock."""

    __slots__ = (
        "_lock",
        "hard_at",
        "invocation_id",
        "key",
        "settled_by",
        "soft_at",
        "soft_error",
        "soft_raised",
        "soft_timeout",
        "started",
        "task_id",
        "timeout",
    )

    def __init__(
        self,
        invocation_id: str,
        task_id: str,
        timeout: float | None = None,
        soft_timeout: float | None = None,
        *,
        key: Any = None,
        started: float | None = None,
        soft_error: type[Exception] = SoftTimeoutExceeded,
    ) -> None:
        self.invocation_id = invocation_id
        self.task_id = task_id
        self.timeout = timeout
        self.soft_timeout = soft_timeout
        self.key = key  #: the runner's handle on the run (a job, a child's pid)
        self.started = time.monotonic() if started is None else started
        self.hard_at = None if timeout is None else self.started + timeout
        self.soft_at = None if soft_timeout is None else self.started + soft_timeout
        self.soft_raised = False
        #: the class raised past the soft limit (the task class's ``soft_timeout_error``)
        self.soft_error = soft_error
        self.settled_by: str | None = None
        self._lock = threading.Lock()

    def settle(self, by: str) -> bool:
        """Claim the right to record this attempt's outcome; ``False`` if someone did first."""
        with self._lock:
            if self.settled_by is not None:
                return False
            self.settled_by = by
            return True

    @property
    def settled(self) -> bool:
        return self.settled_by is not None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def soft_exceeded(self) -> Exception:
        """The exception for this attempt's soft limit (marked raised: raised once): a
        :attr:`soft_error` (see :mod:`pynenc.error_classes`)."""
        self.soft_raised = True
        return build_error(
            self.soft_error,
            SoftTimeoutExceeded,
            f"Invocation {self.invocation_id} of task {self.task_id} ran past its soft time "
            f"limit of {self.soft_timeout:g} s (task option soft_timeout): clean up and return"
            + (f" before its hard limit of {self.timeout:g} s." if self.timeout else "."),
            (self.soft_timeout,),
            {"limit": self.soft_timeout},
        )

    def check_soft(self) -> None:
        """Raise :attr:`soft_error` once, past the soft limit (cooperative check)."""
        if self.soft_at is not None and not self.soft_raised and time.monotonic() >= self.soft_at:
            raise self.soft_exceeded()


def outcome_discarded(envelope: Envelope) -> bool:
    """Called by the body's thread before it records an outcome: ``True`` when its runner
    already gave up on this attempt (then the outcome is discarded here, logged at INFO)."""
    attempt = current_attempt.get()
    if attempt is None or attempt.settle(BODY):
        return False
    logger.info(
        "Task %s[%s] returned %.1f s after it started, but its runner had given it up (%s): "
        "its outcome is discarded",
        envelope.task_id,
        envelope.invocation_id,
        attempt.elapsed(),
        attempt.settled_by,
    )
    return True
