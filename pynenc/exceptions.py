"""The exception tree of pynenc: one root, one base per subsystem.

``PynencError``
    ``ConfigError`` — an option, a value or a configuration source is wrong.
        ``InvalidTaskOptionsError`` — a task was declared with options it does not have.
    ``TaskDefinitionError`` — a function cannot become a task (``__main__``, nested, …).
    ``TaskNotFoundError`` — a task id cannot be resolved to a task.
    ``SerializationError`` — a value cannot be encoded or decoded by the configured serializer.
    ``InvocationError`` — base for problems with one invocation.
        ``InvocationTimeoutError`` — a result did not arrive in time (also a ``TimeoutError``).
        ``TaskTimeoutError`` — the invocation ran past its task's hard ``timeout`` (also a
        ``TimeoutError``).
        ``InvocationCancelledError`` — the invocation was cancelled (status CANCELLED).
        ``InvalidStatusTransitionError`` — a status change the transition table does not allow.
        ``InvocationNotFoundError`` — the state backend has no such invocation.
        ``OutsideTaskError`` — ``Task.invocation`` used outside a running task.
        ``InvocationConcurrencyWithDifferentArgumentsError`` — a KEYS duplicate whose other
          arguments differ (``on_diff_non_key_args_raise``).
        ``ConcurrencyControlledError`` — not run: its running slot was taken and the task
          does not wait (``reroute_on_concurrency_control=False``).
        ``InvocationExpiredError`` — the invocation was not started before its expiry.
        ``InvocationConflictError`` — a caller-chosen invocation id names another call.
    ``RemoteError`` — a task raised an exception whose class cannot be imported here.
    ``BrokerError`` — the broker could not publish or consume.
    ``StateBackendError`` — the state backend failed.
        ``ClientDataStoreError`` — a stored argument or result is missing or damaged.
    ``RunnerError`` — a runner could not start or was misused.
    ``PublishVetoError`` — a ``before_publish`` hook refused a call (nothing was sent).

``RetryError`` is control flow, not an error: raise it from a task to ask for a retry.
``SoftTimeoutExceeded`` is control flow too: raised inside a task past its ``soft_timeout``,
so that it can clean up.
``PynencWarning`` (a ``UserWarning``) flags a likely mistake that pynenc can work around.
"""

from __future__ import annotations

from typing import Any


class PynencError(Exception):
    """Root of every error pynenc raises."""


class ConfigError(PynencError):
    """An option, a value or a configuration source is wrong."""


class InvalidTaskOptionsError(ConfigError):
    """A task was declared with options that do not exist."""

    def __init__(self, task_id: str, invalid: list[str], valid: list[str]) -> None:
        self.task_id = task_id
        self.invalid = sorted(invalid)
        self.valid = sorted(valid)
        super().__init__(
            f"Invalid options for task {task_id}: {', '.join(self.invalid)}. "
            f"Valid options: {', '.join(self.valid)}"
        )


class TaskDefinitionError(PynencError):
    """A function cannot be turned into a task."""


class TaskNotFoundError(PynencError, ValueError):
    """A task id does not resolve to a task (also a ``ValueError``, as documented)."""


class SerializationError(PynencError):
    """A value cannot be encoded or decoded with the configured serializer."""


class InvocationError(PynencError):
    """Base for problems with one invocation."""


class InvocationTimeoutError(InvocationError, TimeoutError):
    """The result of an invocation did not arrive within the timeout."""


class TaskTimeoutError(InvocationError, TimeoutError):
    """The invocation ran past its task's hard time limit (task option ``timeout``).

    Recorded by the runner as the invocation's error (FAILED, or a retry when ``retry_for``
    lists it); a process runner killed the work, a thread runner stopped waiting for it.
    ``limit`` is the limit in seconds.
    """

    def __init__(self, message: str, limit: float | None = None) -> None:
        super().__init__(message, limit)
        self.limit = limit

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvocationCancelledError(InvocationError):
    """The invocation was cancelled (status CANCELLED): raised by ``result`` and by
    ``invocation.checkpoint()`` inside the cancelled task.

    ``invocation_id`` is the cancelled invocation, ``cancelled_by`` names who cancelled it,
    ``cancelled_at`` when (seconds since the epoch), ``reason`` why, when they said so.
    """

    def __init__(
        self,
        message: str,
        cancelled_by: str | None = None,
        cancelled_at: float | None = None,
        reason: str | None = None,
        invocation_id: str | None = None,
    ) -> None:
        super().__init__(message, cancelled_by, cancelled_at, reason, invocation_id)
        self.cancelled_by = cancelled_by
        self.cancelled_at = cancelled_at
        self.reason = reason
        self.invocation_id = invocation_id

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DependencyError(InvocationError):
    """An invocation this one waited for (a chain's earlier step, a chord's member) ended
    without a result, cancelled or expired: this one never runs. ``upstream`` is that
    invocation's id. (One that *failed* passes its own exception on instead.)"""

    def __init__(self, message: str, upstream: str | None = None) -> None:
        super().__init__(message, upstream)
        self.upstream = upstream

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidStatusTransitionError(InvocationError):
    """A status change that the transition table does not allow."""


class InvocationNotFoundError(InvocationError, KeyError):
    """The state backend has no record of the invocation."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class OutsideTaskError(InvocationError, RuntimeError):
    """``Task.invocation`` was read while the task is not running."""


class InvocationConcurrencyWithDifferentArgumentsError(InvocationError):
    """A call matched a pending invocation's key arguments (``registration_concurrency=KEYS``)
    but not its other arguments, and the task has ``on_diff_non_key_args_raise=True``."""

    def __init__(self, message: str, existing_id: str, different: list[str]) -> None:
        self.existing_id = existing_id  #: the pending invocation holding the key
        self.different = different  #: the non-key arguments whose values differ
        super().__init__(message)


class ConcurrencyControlledError(InvocationError):
    """The invocation was not run: the running slots of its key were all taken and its task
    asks not to wait for one (``reroute_on_concurrency_control=False``)."""


class InvocationExpiredError(InvocationError):
    """The invocation was not started before its expiry (status EXPIRED): it never runs.

    Raised to whoever waits for its result; names the invocation, its task and the expiry.
    """

    def __init__(
        self, invocation_id: str, task_id: str, expires: float | None, detail: str = ""
    ) -> None:
        self.invocation_id = invocation_id
        self.task_id = task_id
        self.expires = expires  #: seconds since the epoch
        when = "its expiry" if expires is None else f"its expiry at {_iso(expires)}"
        message = f"Invocation {invocation_id} of task {task_id} was not started before {when}"
        super().__init__(f"{message}: it expired and will not run{detail}")


class InvocationConflictError(InvocationError, ValueError):
    """A caller-chosen invocation id is already used by a call of another task or with
    other arguments (also a ``ValueError``)."""


def _iso(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


class WorkflowError(PynencError):
    """Base of the errors of workflows (``task.wf``, ``app.workflows``)."""


class NotInWorkflowError(WorkflowError, OutsideTaskError):
    """``task.wf`` used where no invocation of that task is running (outside its function)."""


class NonDeterministicWorkflowError(WorkflowError):
    """A workflow run called its ``wf`` operations in another order, or with other tasks
    or arguments, than when it first ran: its recorded values cannot be replayed."""


class WorkflowStateError(WorkflowError, TypeError):
    """A workflow's state, data or resume value is not JSON."""


class WorkflowNotPausedError(WorkflowError):
    """``app.workflows.resume`` of a workflow that is not PAUSED."""


class WorkflowPausedError(InvocationError):
    """The result of a workflow paused in dev sync mode, where nothing can wait for it."""


class RemoteError(PynencError):
    """A task raised an exception whose class cannot be imported by the caller.

    Carries the original type path, message, args and the remote traceback text.
    """

    def __init__(
        self, type_path: str, message: str, args: tuple[Any, ...] = (), traceback: str = ""
    ) -> None:
        self.type_path = type_path
        self.message = message
        self.remote_args = args
        self.remote_traceback = traceback
        super().__init__(f"{type_path}: {message}")


class BrokerError(PynencError):
    """The broker could not publish or consume a message."""


class StateBackendError(PynencError):
    """The state backend failed or was misused."""


class StateBackendUnavailableError(StateBackendError):
    """The state backend could not be reached (or stayed locked) through its retries.

    Worth trying again later, unlike a plain :class:`StateBackendError`, which the backend
    raised for what it was given (trying the same again fails the same way).
    """


class ClientDataStoreError(StateBackendError):
    """A value the client data store refers to is missing (purged, lost) or damaged."""


class RunnerError(PynencError):
    """A runner could not start, or was used in a way it does not support."""


class PublishVetoError(PynencError):
    """Raised by a ``before_publish`` hook to refuse a call: nothing is registered or
    published, and the caller gets this error (see :mod:`pynenc.hooks`)."""


#: The longest delay pynenc accepts, in seconds (100 years): a per-call ``delay`` or
#: ``expires`` in seconds, or ``RetryError(delay=...)``; a computed retry backoff stops
#: there. Every due time stays a ``datetime`` (history, ``pynenc status``).
LONGEST_DELAY = 100 * 365.25 * 86_400


class RetryError(Exception):
    """Raise inside a task to request a retry (control flow, not an error).

    Always retriable, whatever ``retry_for`` says; ``max_retries`` still bounds it.
    ``RetryError(delay=5)`` retries after 5 seconds (the invocation waits SCHEDULED in the
    state backend, not in a runner slot), instead of the task's ``retry_delay`` and backoff.
    """

    #: internal: the arguments the retry runs with, serialized as a call stores them
    #: (``Call.serialized_arguments``), set by an integration that changes them between
    #: attempts (the Celery layer's ``self.retry(args=...)``); ``None``: the same ones
    retry_arguments: dict[str, str] | None = None

    def __init__(self, *args: Any, delay: float | None = None) -> None:
        if delay is not None and (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not 0 <= delay <= LONGEST_DELAY
        ):
            raise ValueError(
                f"RetryError(delay={delay!r}): delay must be a number of seconds from 0 to "
                f"{LONGEST_DELAY:.0f} (100 years)"
            )
        super().__init__(*args)
        self.delay = None if delay is None else float(delay)


class SoftTimeoutExceeded(Exception):
    """Raised inside a task that ran past its soft time limit (task option ``soft_timeout``):
    catch it to clean up before the hard ``timeout``. Control flow, not a pynenc error.

    Raised asynchronously (by a signal) in a ``ProcessRunner`` child; elsewhere at the
    task's next ``invocation.checkpoint()``. Uncaught, it fails the invocation (or retries
    it when ``retry_for`` lists it). ``limit`` is the soft limit in seconds.
    """

    def __init__(self, message: str, limit: float | None = None) -> None:
        super().__init__(message, limit)
        self.limit = limit

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


__all__ = [
    "BrokerError",
    "ConcurrencyControlledError",
    "ClientDataStoreError",
    "ConfigError",
    "InvalidStatusTransitionError",
    "InvalidTaskOptionsError",
    "InvocationConcurrencyWithDifferentArgumentsError",
    "InvocationConflictError",
    "InvocationCancelledError",
    "InvocationError",
    "InvocationExpiredError",
    "InvocationNotFoundError",
    "InvocationTimeoutError",
    "OutsideTaskError",
    "PublishVetoError",
    "PynencError",
    "PynencWarning",
    "RemoteError",
    "RetryError",
    "RunnerError",
    "SerializationError",
    "SoftTimeoutExceeded",
    "StateBackendError",
    "StateBackendUnavailableError",
    "TaskDefinitionError",
    "TaskNotFoundError",
    "TaskTimeoutError",
    "NonDeterministicWorkflowError",
    "NotInWorkflowError",
    "WorkflowError",
    "WorkflowNotPausedError",
    "WorkflowPausedError",
    "WorkflowStateError",
]


class PynencWarning(UserWarning):
    """A likely mistake pynenc can work around (an unknown task key, an unused queue, …).

    Issued with :func:`warnings.warn`; the ``pynenc`` command prints them to stderr.
    """
