"""Celery's exceptions under Celery's names, each a subclass of Celery's own class.

An ``except celery.exceptions.X:`` clause written for Celery keeps catching what this layer
raises, and code that imports the names from here catches Celery's too where the class is
Celery's own (``Retry``, ``Ignore``, ``Reject`` and the registry errors are Celery's classes,
re-exported: the tracer and the workers of a project still on Celery raise them).
"""

from __future__ import annotations

from celery import exceptions as _celery
from celery.exceptions import (
    AlwaysEagerIgnored,
    CeleryError,
    ChordError,
    Ignore,
    ImproperlyConfigured,
    MaxRetriesExceededError,
    NotRegistered,
    Reject,
    Retry,
    TaskError,
    TaskPredicate,
    WorkerLostError,
)
from celery.exceptions import (
    SoftTimeLimitExceeded as _CelerySoftTimeLimitExceeded,
)
from celery.exceptions import (
    TaskRevokedError as _CeleryTaskRevokedError,
)
from celery.exceptions import (
    TimeLimitExceeded as _CeleryTimeLimitExceeded,
)

from pynenc.exceptions import (
    InvocationCancelledError,
    InvocationTimeoutError,
    SoftTimeoutExceeded,
    TaskTimeoutError,
)


class TimeoutError(_celery.TimeoutError, InvocationTimeoutError):  # type: ignore[misc]
    """``AsyncResult.get(timeout=…)`` ran out of time (Celery's ``TimeoutError``)."""


class SoftTimeLimitExceeded(_CelerySoftTimeLimitExceeded, SoftTimeoutExceeded):  # type: ignore[misc]
    """Raised inside a task past its ``soft_time_limit`` (Celery's class, and pynenc's)."""

    def __init__(self, message: str = "", limit: float | None = None) -> None:
        SoftTimeoutExceeded.__init__(self, message, limit)

    def __str__(self) -> str:
        return SoftTimeoutExceeded.__str__(self)


class TimeLimitExceeded(_CeleryTimeLimitExceeded, TaskTimeoutError):  # type: ignore[misc]
    """A task ran past its ``time_limit`` and was stopped (Celery's class, and pynenc's)."""

    def __init__(self, message: str = "", limit: float | None = None) -> None:
        TaskTimeoutError.__init__(self, message, limit)

    def __str__(self) -> str:
        return TaskTimeoutError.__str__(self)


class TaskRevokedError(_CeleryTaskRevokedError, InvocationCancelledError):  # type: ignore[misc]
    """The task was revoked (cancelled) or expired before it finished."""

    def __init__(self, message: str = "", *args: object) -> None:
        _CeleryTaskRevokedError.__init__(self, message, *args)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


__all__ = [
    "AlwaysEagerIgnored",
    "CeleryError",
    "ChordError",
    "Ignore",
    "ImproperlyConfigured",
    "MaxRetriesExceededError",
    "NotRegistered",
    "Reject",
    "Retry",
    "SoftTimeLimitExceeded",
    "TaskError",
    "TaskPredicate",
    "TaskRevokedError",
    "TimeLimitExceeded",
    "TimeoutError",
    "WorkerLostError",
]
