"""Celery's exceptions under Celery's names: every name of ``celery.exceptions.__all__``.

An ``except celery.exceptions.X:`` clause written for Celery keeps catching what this layer
raises. Four classes are this layer's own, each a subclass of Celery's class and of the
pynenc error it stands for: ``TimeoutError`` (``AsyncResult.get(timeout=)``),
``SoftTimeLimitExceeded``, ``TimeLimitExceeded`` and ``TaskRevokedError``. Every other name
is Celery's class itself (``Retry``, ``Ignore``, ``Reject``, ``MaxRetriesExceededError``,
the registry and backend errors, the warnings…): Celery's tracer and the workers of a
project still on Celery raise them, and code importing them from here catches those too.
"""

from __future__ import annotations

from celery import exceptions as _celery
from celery.exceptions import (
    AlreadyRegistered,
    AlwaysEagerIgnored,
    BackendError,
    BackendGetMetaError,
    BackendStoreError,
    CDeprecationWarning,
    CeleryCommandException,
    CeleryError,
    CeleryWarning,
    ChordError,
    CPendingDeprecationWarning,
    DuplicateNodenameWarning,
    DuplicateTaskNameWarning,
    FixupWarning,
    Ignore,
    ImproperlyConfigured,
    IncompleteStream,
    InvalidTaskError,
    MaxRetriesExceededError,
    NotConfigured,
    NotRegistered,
    OperationalError,
    QueueNotFound,
    Reject,
    Retry,
    SecurityError,
    SecurityWarning,
    TaskError,
    TaskPredicate,
    Terminated,
    WorkerLostError,
    WorkerShutdown,
    WorkerTerminate,
    reraise,
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


#: Celery's old names, kept by Celery beside the new ones
RetryTaskError = Retry
SystemTerminate = WorkerTerminate

#: every name of ``celery.exceptions.__all__`` (Celery 5.7), no more
__all__ = [
    "AlreadyRegistered",
    "AlwaysEagerIgnored",
    "BackendError",
    "BackendGetMetaError",
    "BackendStoreError",
    "CDeprecationWarning",
    "CPendingDeprecationWarning",
    "CeleryCommandException",
    "CeleryError",
    "CeleryWarning",
    "ChordError",
    "DuplicateNodenameWarning",
    "DuplicateTaskNameWarning",
    "FixupWarning",
    "Ignore",
    "ImproperlyConfigured",
    "IncompleteStream",
    "InvalidTaskError",
    "MaxRetriesExceededError",
    "NotConfigured",
    "NotRegistered",
    "OperationalError",
    "QueueNotFound",
    "Reject",
    "Retry",
    "SecurityError",
    "SecurityWarning",
    "SoftTimeLimitExceeded",
    "TaskError",
    "TaskPredicate",
    "TaskRevokedError",
    "Terminated",
    "TimeLimitExceeded",
    "TimeoutError",
    "WorkerLostError",
    "WorkerShutdown",
    "WorkerTerminate",
    "reraise",
]
