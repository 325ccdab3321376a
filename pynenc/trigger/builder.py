"""``TriggerBuilder``: declare when a task runs by itself::

    @app.task(triggers=TriggerBuilder().on_cron("0 3 * * *"))
    def nightly_report() -> None: ...

    @app.task(
        triggers=TriggerBuilder()
        .on_event("order.paid", payload_filter=is_large_order)
        .with_arguments(order_from_event)
    )
    def ship(order_id: str) -> None: ...

A builder holds conditions (``on_*``), how they combine (``with_logic``: ``"or"``, the
default, fires on any of them; ``"and"`` once each has been met since the last firing),
the arguments of the triggered call (``with_arguments``: a dict, or a provider
function building them from the :class:`~pynenc.trigger.context.TriggerContext`), its call
options (``with_options``: queue, priority, expires, delay, headers) and a name
(``named``: two otherwise identical triggers of a task are two triggers)::

    @app.task(
        triggers=[
            TriggerBuilder().named("eu").on_cron("0 7 * * *").with_options(queue="eu"),
            TriggerBuilder().named("us").on_cron("0 7 * * *").with_options(queue="us"),
        ]
    )
    def refresh_prices() -> None: ...
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from cronsim import CronSim, CronSimError

from pynenc.exceptions import TaskDefinitionError
from pynenc.records import InvocationStatus
from pynenc.trigger.conditions import (
    WATCHABLE,
    Condition,
    CronCondition,
    EventCondition,
    ExceptionCondition,
    IntervalCondition,
    ResultCondition,
    StatusCondition,
    exception_path,
)
from pynenc.trigger.options import checked_name, checked_options
from pynenc.trigger.refs import function_ref

if TYPE_CHECKING:
    from typing import Self

Logic = Literal["and", "or"]
#: The shortest interval a trigger accepts (the scheduler's granularity is finer).
MIN_INTERVAL = 0.01


class TriggerBuilder:
    """Conditions, logic, arguments, call options and name of one trigger (each method
    returns the builder)."""

    def __init__(self) -> None:
        self.conditions: list[Condition] = []
        self.logic: Logic = "or"
        self.arguments: dict[str, Any] | None = None
        self.provider: str | None = None  #: ``module:name`` of the argument provider
        #: the call options of each triggered invocation (only those given)
        self.options: dict[str, Any] = {}
        self.name: str | None = None

    def __repr__(self) -> str:
        described = f" {self.logic} ".join(c.describe() for c in self.conditions) or "nothing"
        named = "" if self.name is None else f"{self.name!r} "
        return f"TriggerBuilder({named}on {described})"

    # -- time ----------------------------------------------------------------------------

    def on_cron(self, expression: str, *, day_and: bool = False) -> Self:
        """At each time matching the 5-field cron ``expression`` (minute hour day-of-month
        month day-of-week; names such as ``mon-fri`` and ``jan`` work), in the app's
        ``timezone``."""
        if not isinstance(expression, str) or len(expression.split()) != 5:
            raise TaskDefinitionError(
                f"on_cron({expression!r}): a cron expression has 5 fields separated by "
                "spaces: minute hour day-of-month month day-of-week (e.g. '*/15 9-17 * * "
                "mon-fri')"
            )
        try:
            CronSim(expression, _EPOCH)
        except CronSimError as exc:
            raise TaskDefinitionError(
                f"on_cron({expression!r}): invalid cron expression ({exc}). Fields: minute "
                "0-59, hour 0-23, day-of-month 1-31, month 1-12 or jan-dec, day-of-week 0-7 "
                "or sun-sat; each *, a value, a range a-b, a step */n or a-b/n, or a list."
            ) from exc
        self.conditions.append(CronCondition(" ".join(expression.split()), day_and))
        return self

    def on_interval(self, seconds: float) -> Self:
        """Every ``seconds`` (counted from when a runner first saw the trigger)."""
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < MIN_INTERVAL
        ):
            raise TaskDefinitionError(
                f"on_interval({seconds!r}): give a number of seconds >= {MIN_INTERVAL}"
            )
        self.conditions.append(IntervalCondition(float(seconds)))
        return self

    # -- events --------------------------------------------------------------------------

    def on_event(self, code: str, payload_filter: Callable[[Any], bool] | None = None) -> Self:
        """On each event emitted with ``code`` (``app.trigger.emit_event(code, payload)``)
        whose payload passes ``payload_filter`` (a module-level function)."""
        if not isinstance(code, str) or not code:
            raise TaskDefinitionError(f"on_event({code!r}): an event code is a non-empty string")
        ref = None if payload_filter is None else function_ref(payload_filter, "payload_filter")
        self.conditions.append(EventCondition(code, ref))
        return self

    # -- outcomes of other tasks ---------------------------------------------------------

    def on_status(self, task: Any, statuses: Iterable[InvocationStatus | str]) -> Self:
        """When an invocation of ``task`` ends in one of ``statuses`` (SUCCESS, FAILED,
        CANCELLED, EXPIRED)."""
        wanted = tuple(dict.fromkeys(_status(value) for value in _many(statuses, "statuses")))
        if not wanted:
            raise TaskDefinitionError("on_status(task, statuses): give at least one status")
        self.conditions.append(StatusCondition(_task_key(task, "on_status"), wanted))
        return self

    def on_success(self, task: Any) -> Self:
        """When an invocation of ``task`` succeeds."""
        return self.on_status(task, [InvocationStatus.SUCCESS])

    def on_result(self, task: Any, result_filter: Callable[[Any], bool] | None = None) -> Self:
        """When an invocation of ``task`` succeeds with a result passing ``result_filter``
        (a module-level function; ``None``: any result)."""
        ref = None if result_filter is None else function_ref(result_filter, "result_filter")
        self.conditions.append(ResultCondition(_task_key(task, "on_result"), ref))
        return self

    def on_exception(
        self, task: Any, exception_types: Iterable[type[BaseException] | str] | type = Exception
    ) -> Self:
        """When an invocation of ``task`` fails with one of ``exception_types`` (classes or
        import paths; subclasses match)."""
        what = "on_exception(task, exception_types)"
        paths = tuple(exception_path(value, what) for value in _many(exception_types, what))
        if not paths:
            raise TaskDefinitionError(f"{what}: give at least one exception type")
        self.conditions.append(ExceptionCondition(_task_key(task, "on_exception"), paths))
        return self

    # -- combination and arguments -------------------------------------------------------

    def with_logic(self, logic: Logic | str) -> Self:
        """``"or"`` (default): fire on each condition met. ``"and"``: fire once every
        condition has been met since the last firing."""
        value = str(getattr(logic, "value", logic)).lower()
        if value not in ("and", "or"):
            raise TaskDefinitionError(f"with_logic({logic!r}): use 'and' or 'or'")
        self.logic = "and" if value == "and" else "or"
        return self

    def with_arguments(
        self, arguments: Mapping[str, Any] | Callable[..., Mapping[str, Any]]
    ) -> Self:
        """The triggered call's arguments: a mapping of parameter names to values (JSON),
        or a module-level provider function ``(context) -> mapping`` building them from
        what fired the trigger (the event payload, the watched invocation's result or
        exception, the occasion)."""
        if isinstance(arguments, Mapping):
            if not all(isinstance(key, str) for key in arguments):
                raise TaskDefinitionError("with_arguments(...): argument names are strings")
            self.arguments, self.provider = dict(arguments), None
        else:
            self.arguments = None
            self.provider = function_ref(arguments, "with_arguments provider")
        return self

    # -- call options and name -----------------------------------------------------------

    def with_options(
        self,
        *,
        queue: str | None = None,
        priority: int | None = None,
        expires: float | None = None,
        delay: float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> Self:
        """Call options of each triggered invocation, checked now as ``task.with_options``
        checks them (replacing options given before):

        :param queue: the queue it goes to instead of the task's.
        :param priority: 0-9, its message priority.
        :param expires: seconds from each firing: not started by then, it ends EXPIRED.
        :param delay: seconds from each firing before it may run.
        :param headers: a dict of JSON values, merged with the ``pynenc_trigger`` header
            (which it may not hold).

        They are part of the trigger's id: changing them makes a new trigger.
        """
        self.options = checked_options(queue, priority, expires, delay, headers)
        return self

    def named(self, name: str) -> Self:
        """Name the trigger: ``pynenc triggers`` and the ``pynenc_trigger`` header show it,
        and it is part of the trigger's id, so two otherwise identical triggers of a task
        (the same conditions and arguments) are two triggers, each firing on its own."""
        self.name = checked_name(name)
        return self


def _many(values: Any, what: str) -> list[Any]:
    if isinstance(values, str | bytes | type) or not isinstance(values, Iterable):
        return [values]
    return list(values)


def _status(value: InvocationStatus | str) -> InvocationStatus:
    try:
        status = InvocationStatus(str(getattr(value, "value", value)).lower())
    except ValueError:
        status = None
    if status not in WATCHABLE:
        names = ", ".join(s.name for s in WATCHABLE)
        raise TaskDefinitionError(
            f"on_status: {value!r} is not a status an invocation ends in; use {names}"
        )
    return status


def _task_key(task: Any, what: str) -> str:
    from pynenc.task import _extract_task_from_wrapper

    if isinstance(task, str) and task:
        return task
    found = _extract_task_from_wrapper(task)
    if found is None:
        raise TaskDefinitionError(
            f"{what}: {task!r} is not a task; give the task (or its name, 'module.function')"
        )
    return found.task_id.key


_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  #: a start for checking an expression
