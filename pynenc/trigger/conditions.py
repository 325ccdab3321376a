"""What a trigger waits for: one condition per kind, plain data that any runner can
evaluate (functions are held by import path, see :mod:`pynenc.trigger.refs`).

Time conditions (:class:`CronCondition`, :class:`IntervalCondition`) are met at their
occasions; :class:`EventCondition` by an event emitted with ``app.trigger.emit_event``;
the outcome conditions (:class:`StatusCondition`, :class:`ResultCondition`,
:class:`ExceptionCondition`) by an invocation of the watched task ending.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pynenc.records import InvocationStatus
from pynenc.trigger.refs import resolve_ref

#: The statuses an outcome condition can watch: those an invocation ends in.
WATCHABLE = (
    InvocationStatus.SUCCESS,
    InvocationStatus.FAILED,
    InvocationStatus.CANCELLED,
    InvocationStatus.EXPIRED,
)


@dataclass(frozen=True)
class CronCondition:
    """Met at each time matching a 5-field cron ``expression`` in the app's timezone.

    ``day_and``: a time must match both the day-of-month and the day-of-week fields (Celery's
    ``crontab``); by default, as in cron, either one when both are restricted.
    """

    expression: str
    day_and: bool = False
    kind = "cron"

    def describe(self) -> str:
        return f"cron {self.expression!r}" + (" (days: both fields)" if self.day_and else "")


@dataclass(frozen=True)
class IntervalCondition:
    """Met every ``seconds``, counted from when the trigger was first seen by a runner."""

    seconds: float
    kind = "interval"

    def describe(self) -> str:
        return f"every {self.seconds:g} s"


@dataclass(frozen=True)
class EventCondition:
    """Met by each event with this ``code`` whose payload passes ``payload_filter`` (the
    ``module:name`` of a function ``(payload) -> bool``; ``None``: every payload)."""

    code: str
    payload_filter: str | None = None
    kind = "event"

    def describe(self) -> str:
        return f"event {self.code!r}{_where(self.payload_filter)}"

    def matches(self, code: str, payload: Any) -> bool:
        return code == self.code and _passes(self.payload_filter, payload)


@dataclass(frozen=True)
class StatusCondition:
    """Met by each invocation of task ``task_key`` ending in one of ``statuses``."""

    task_key: str
    statuses: tuple[InvocationStatus, ...]
    kind = "status"

    def describe(self) -> str:
        names = "/".join(status.name for status in self.statuses)
        return f"{self.task_key} ends {names}"

    def matches(self, status: InvocationStatus, result: Any, error: Any) -> bool:
        return status in self.statuses


@dataclass(frozen=True)
class ResultCondition:
    """Met by each invocation of ``task_key`` that succeeds with a result passing
    ``result_filter`` (``module:name`` of ``(result) -> bool``; ``None``: any result)."""

    task_key: str
    result_filter: str | None = None
    kind = "result"

    def describe(self) -> str:
        return f"{self.task_key} succeeds{_where(self.result_filter)}"

    def matches(self, status: InvocationStatus, result: Any, error: Any) -> bool:
        return status is InvocationStatus.SUCCESS and _passes(self.result_filter, result)


@dataclass(frozen=True)
class ExceptionCondition:
    """Met by each invocation of ``task_key`` that fails with one of ``exception_types``
    (import paths ``module.Class``; a subclass matches)."""

    task_key: str
    exception_types: tuple[str, ...]
    kind = "exception"

    def describe(self) -> str:
        names = ", ".join(path.rpartition(".")[2] for path in self.exception_types)
        return f"{self.task_key} raises {names}"

    def matches(self, status: InvocationStatus, result: Any, error: Any) -> bool:
        if status is not InvocationStatus.FAILED or not isinstance(error, BaseException):
            return False
        raised = getattr(error, "type_path", None) or _path(type(error))
        for path in self.exception_types:
            if path == raised:
                return True
            cls = _import_class(path)
            if cls is not None and isinstance(error, cls):
                return True
        return False


Condition = (
    CronCondition
    | IntervalCondition
    | EventCondition
    | StatusCondition
    | ResultCondition
    | ExceptionCondition
)
OutcomeCondition = StatusCondition | ResultCondition | ExceptionCondition
TimeCondition = CronCondition | IntervalCondition
OUTCOME_KINDS = frozenset({"status", "result", "exception"})
TIME_KINDS = frozenset({"cron", "interval"})


def _where(ref: str | None) -> str:
    return f" where {ref}" if ref else ""


def _passes(ref: str | None, value: Any) -> bool:
    """Whether ``value`` passes the filter function ``ref`` names (``None``: no filter)."""
    return ref is None or bool(resolve_ref(ref)(value))


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def exception_path(value: Any, what: str) -> str:
    """The import path of an exception class given as a class or as its path."""
    from pynenc.exceptions import TaskDefinitionError

    if isinstance(value, type) and issubclass(value, BaseException):
        return _path(value)
    if isinstance(value, str) and value:
        return value if "." in value else f"builtins.{value}"
    raise TaskDefinitionError(
        f"{what}: {value!r} is not an exception class; give classes (ValueError) or their "
        "import paths ('myapp.errors.PaymentError')"
    )


def _import_class(path: str) -> type | None:
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    return found if isinstance(found, type) else None
