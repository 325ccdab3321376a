"""Celery beat entries as pynenc triggers: what each ``beat_schedule`` entry becomes.

An entry (``beat_schedule = {name: {...}}``, or ``app.add_periodic_task(schedule, sig,
name=...)``, which Celery stores in ``beat_schedule`` too) becomes a native trigger on the
entry's task (:mod:`pynenc.trigger`), evaluated by the runners themselves
(:mod:`pynenc_celery_compat.beat_install`)::

    crontab(...)                       -> on_cron(<Celery's parsed fields>, day_and=True)
    seconds, timedelta, schedule(...)  -> on_interval(seconds)
    solar(...), custom schedule class  -> BeatScheduleError (not supported)
    args, kwargs                       -> with_arguments({parameter: value}) (bound to the
                                          task's parameters, as the call would bind them)
    options                            -> with_options(queue, priority, expires, delay,
                                          headers) (task_routes applied; countdown is the
                                          delay; Celery beat's celery_beat_task header added)
    the entry's name                   -> named(name): each entry is a trigger of its own,
                                          even two with the same task, times and arguments

``relative=True`` (Celery: round each next time down to the interval's largest unit) is
applied exactly for 1 minute, 1 hour and 1 day (a cron at the start of each minute, hour or
day); other intervals run every ``N`` seconds from when a runner first saw the entry, with a
warning. Below a minute it changes nothing, as in Celery.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from celery import schedules as celery_schedules

from pynenc.exceptions import ConfigError, TaskDefinitionError
from pynenc.trigger import TriggerBuilder
from pynenc_celery_compat.calling import BROKER_ONLY
from pynenc_celery_compat.config import warn_once
from pynenc_celery_compat.schedules import SOLAR_UNSUPPORTED, cron_expression

#: the header Celery's beat puts on the calls it sends
BEAT_HEADER = "celery_beat_task"
#: the keys of a beat_schedule entry
ENTRY_KEYS = ("task", "schedule", "args", "kwargs", "options", "relative")
#: apply_async options a triggered call takes: Celery's name -> pynenc's call option
CALL_OPTIONS = {"queue": "queue", "priority": "priority", "expires": "expires"}
CALL_OPTIONS_TOO = ("countdown", "headers")  #: mapped with a conversion (delay, merged)
#: options refused, with why
REFUSED = {
    "eta": "a fixed start time cannot repeat; use the schedule (or countdown=) instead",
    "task_id": "each run needs an id of its own (pynenc derives one per occasion)",
    "link": "callbacks of periodic calls are not supported; call the next task from the task",
    "link_error": "error callbacks of periodic calls are not supported; handle the error in "
    "the task, or trigger a task on its failure (pynenc's on_exception)",
    "chain": "a periodic chain is not supported; schedule its first task and call the rest from it",
    "chord": "a periodic chord is not supported",
    "shadow": "a periodic call runs under its task's name",
}
#: options accepted with no effect, with why (besides Celery's broker-only ones)
IGNORED = {
    "ignore_result": "pynenc records every outcome",
    "add_to_parent": "a periodic call has no parent",
    "time_limit": "pynenc's time limits are per task: give the task time_limit=",
    "soft_time_limit": "pynenc's time limits are per task: give the task soft_time_limit=",
    "serializer": "a call is serialized with its task's serializer",
}
#: Celery's relative=True, where it amounts to a cron line: the interval's seconds -> cron
_RELATIVE_CRON = {60: "* * * * *", 3600: "0 * * * *", 86400: "0 0 * * *"}


class BeatScheduleError(ConfigError):
    """A ``beat_schedule`` entry that cannot run on pynenc (each one named, with why)."""


@dataclass(frozen=True)
class BeatEntry:
    """One ``beat_schedule`` entry as pynenc runs it."""

    name: str
    task: str  #: the task's name
    schedule: Any  #: the schedule as given
    builder: TriggerBuilder  #: the trigger on the task (condition and arguments)
    when: str  #: how it runs, for people: ``cron '0 7 * * 1-5'``, ``every 30 s``
    call_options: dict[str, Any] = field(default_factory=dict)  #: pynenc call options
    #: why the runners leave it out (a task that runs on Celery); ``None``: they run it
    skipped: str | None = None


def condition_of(name: str, schedule: Any, relative: bool = False) -> tuple[TriggerBuilder, str]:
    """The trigger condition of entry ``name``'s ``schedule`` and how it reads.

    :raises BeatScheduleError: ``solar``, a schedule class pynenc cannot evaluate, or a
        schedule that is not one (naming the entry).
    """
    if isinstance(schedule, celery_schedules.solar):
        raise BeatScheduleError(f"beat entry {name!r}: {SOLAR_UNSUPPORTED}")
    if isinstance(schedule, celery_schedules.crontab):
        expression = cron_expression(schedule)
        return TriggerBuilder().on_cron(expression, day_and=True), f"cron {expression!r}"
    if isinstance(schedule, celery_schedules.schedule) and type(schedule).is_due is (
        celery_schedules.schedule.is_due
    ):
        return _interval(name, schedule.run_every, relative or bool(schedule.relative))
    if isinstance(schedule, int | float | dt.timedelta) and not isinstance(schedule, bool):
        return _interval(name, schedule, relative)
    if isinstance(schedule, celery_schedules.BaseSchedule):
        raise BeatScheduleError(
            f"beat entry {name!r}: schedule {type(schedule).__name__} is a schedule class of "
            "its own, which pynenc cannot evaluate (its runners compute the times: they need "
            "a crontab, a number of seconds, a timedelta or schedule(run_every))"
        )
    line = f"; for a cron line write crontab.from_string({schedule!r})" * isinstance(schedule, str)
    raise BeatScheduleError(
        f"beat entry {name!r}: schedule {schedule!r} is not a schedule; give a crontab(...), "
        f"a number of seconds, a timedelta or schedule(run_every=...){line}"
    )


def _interval(name: str, every: Any, relative: bool) -> tuple[TriggerBuilder, str]:
    seconds = every.total_seconds() if isinstance(every, dt.timedelta) else float(every)
    if not seconds > 0:
        raise BeatScheduleError(
            f"beat entry {name!r}: an interval of {seconds:g} s would never wait; give a "
            "positive number of seconds or timedelta"
        )
    if relative and seconds >= 60:
        cron = _RELATIVE_CRON.get(int(seconds)) if seconds.is_integer() else None
        if cron is not None:  # Celery's rounding: the start of each minute, hour or day
            return TriggerBuilder().on_cron(cron), f"cron {cron!r} (relative every {seconds:g} s)"
        warn_once(
            f"beat-relative-{name}",
            f"beat entry {name!r}: relative=True is not applied to an interval of "
            f"{seconds:g} s: it runs every {seconds:g} s from when a runner first saw it, "
            "not rounded to the clock. For runs at fixed clock times give a crontab.",
        )
    return TriggerBuilder().on_interval(seconds), f"every {seconds:g} s"


def bound_arguments(
    name: str, task_name: str, signature: inspect.Signature, args: Any, kwargs: Any
) -> dict[str, Any]:
    """The entry's ``args`` and ``kwargs`` as the parameter names of the task (a trigger
    calls by name): bound as the call would bind them, ``**kwargs`` spread out.

    :raises BeatScheduleError: they do not fit the task, the task takes ``*args`` and
        gets values for it, a value is evaluated lazily (``BeatLazyFunc``), or one is not
        JSON (a trigger's arguments are stored as JSON).
    """
    if args is None:
        args = ()
    if kwargs is None:
        kwargs = {}
    if isinstance(args, str | bytes | Mapping) or not isinstance(args, list | tuple):
        raise BeatScheduleError(
            f"beat entry {name!r}: args must be a list or tuple of positional arguments, "
            f"got {type(args).__name__} {args!r}"
        )
    if not isinstance(kwargs, Mapping):
        raise BeatScheduleError(
            f"beat entry {name!r}: kwargs must be a dict, got {type(kwargs).__name__}"
        )
    lazy = [v for v in (*args, *kwargs.values()) if type(v).__name__ == "BeatLazyFunc"]
    if lazy:
        raise BeatScheduleError(
            f"beat entry {name!r}: BeatLazyFunc arguments (computed at each run) are not "
            "supported; compute the value inside the task"
        )
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        params = ", ".join(str(p) for p in signature.parameters.values()) or "none"
        raise BeatScheduleError(
            f"beat entry {name!r}: args {list(args)!r} and kwargs {dict(kwargs)!r} do not fit "
            f"task {task_name} ({params}): {exc}"
        ) from exc
    found: dict[str, Any] = {}
    for param, value in bound.arguments.items():
        kind = signature.parameters[param].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                raise BeatScheduleError(
                    f"beat entry {name!r}: task {task_name} takes *{param}, and pynenc's "
                    f"triggers call a task with arguments by name, so {list(value)!r} cannot "
                    f"reach *{param}; give the task named parameters for them"
                )
        elif kind is inspect.Parameter.VAR_KEYWORD:
            found.update(value)
        elif kind is inspect.Parameter.POSITIONAL_ONLY:
            raise BeatScheduleError(
                f"beat entry {name!r}: task {task_name}'s parameter {param} is positional-"
                "only, and pynenc's triggers call a task with arguments by name; make it a "
                "plain parameter"
            )
        else:
            found[param] = value
    try:
        json.dumps(found)
    except (TypeError, ValueError) as exc:
        raise BeatScheduleError(
            f"beat entry {name!r}: args and kwargs must be JSON values (strings, numbers, "
            f"booleans, None, lists, dicts): {exc}; pass {_json_hint(found)}"
        ) from exc
    return found


#: what to pass instead of a value JSON cannot hold (datetime before date: a subclass)
_JSON_HINTS = (
    (dt.datetime, "a datetime as its ISO string"),
    (dt.date, "a date as its ISO string"),
    (dt.time, "a time as its ISO string"),
    (Decimal, "a Decimal as a string"),
    (set | frozenset, "a set as a list"),
    (UUID, "a UUID as a string"),
    (bytes, "bytes as a string"),
)


def _json_hint(values: Any) -> str:
    """What to pass instead of the first value in ``values`` that JSON cannot hold."""
    found: list[Any] = []

    def note(value: Any) -> Any:
        found.append(value)
        raise TypeError

    with contextlib.suppress(TypeError, ValueError):
        json.dumps(values, default=note)
    for kind, hint in _JSON_HINTS:
        if found and isinstance(found[0], kind):
            return hint
    return "it as JSON values (a datetime as its ISO string)"


def call_options(name: str, options: Any) -> dict[str, Any]:
    """pynenc call options (``queue``, ``priority``, ``expires``, ``delay``, ``headers``)
    from an entry's ``options`` (Celery's ``apply_async`` options).

    :raises BeatScheduleError: an option periodic calls cannot have, or a bad value.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise BeatScheduleError(
            f"beat entry {name!r}: options must be a dict of apply_async options"
        )
    found: dict[str, Any] = {}
    for option, value in options.items():
        if value is None:
            continue
        if option in REFUSED:
            raise BeatScheduleError(f"beat entry {name!r}: options {option}= {REFUSED[option]}")
        if option in IGNORED or option in BROKER_ONLY:
            why = IGNORED.get(option, "it only means something to a Celery broker")
            warn_once(
                f"beat-option-{name}-{option}",
                f"beat entry {name!r}: option {option}= has no effect on pynenc ({why})",
            )
        elif option == "queue":
            found["queue"] = str(
                value.get("name") if isinstance(value, Mapping) else getattr(value, "name", value)
            )
        elif option == "priority":
            found["priority"] = _priority(name, value)
        elif option == "expires":
            found["expires"] = _expires(name, value)
        elif option == "countdown":
            found["delay"] = _seconds(name, "countdown", value)
        elif option == "headers":
            if not isinstance(value, Mapping):
                raise BeatScheduleError(f"beat entry {name!r}: options headers= must be a dict")
            found["headers"] = dict(value)
        else:
            known = ", ".join([*CALL_OPTIONS, *CALL_OPTIONS_TOO])
            raise BeatScheduleError(
                f"beat entry {name!r}: option {option}= is not an option pynenc can give a "
                f"periodic call; it takes {known} (and ignores Celery's broker options)"
            )
    return found


def apply_options(name: str, builder: TriggerBuilder, options: Mapping[str, Any]) -> None:
    """Name ``builder`` after entry ``name`` and give it the entry's call ``options`` (from
    :func:`call_options`) with Celery beat's ``celery_beat_task`` header.

    :raises BeatScheduleError: the name or an option does not fit a pynenc trigger.
    """
    given = dict(options)
    given["headers"] = {**given.get("headers", {}), BEAT_HEADER: True}
    try:
        builder.named(name).with_options(**given)
    except TaskDefinitionError as exc:
        text = str(exc).removeprefix("TriggerBuilder().with_").replace("(delay=", "(countdown=")
        raise BeatScheduleError(f"beat entry {name!r}: {text}") from exc


def _priority(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BeatScheduleError(f"beat entry {name!r}: options priority= must be an integer")
    return min(max(value, 0), 9)  # Celery's 0-255 (AMQP) onto pynenc's 0-9


def _seconds(name: str, option: str, value: Any) -> float:
    if isinstance(value, dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BeatScheduleError(
            f"beat entry {name!r}: options {option}= must be a number of seconds >= 0"
        )
    return float(value)


def _expires(name: str, value: Any) -> float:
    if isinstance(value, dt.datetime):
        raise BeatScheduleError(
            f"beat entry {name!r}: options expires= is a fixed datetime, after which every "
            "run would expire; give seconds from each run (expires=300)"
        )
    seconds = _seconds(name, "expires", value)
    if seconds == 0:
        raise BeatScheduleError(f"beat entry {name!r}: options expires=0 would never run")
    return seconds


def check_keys(name: str, entry: Any) -> None:
    """:raises BeatScheduleError: ``entry`` is not a dict of Celery's entry keys."""
    if not isinstance(entry, Mapping):
        raise BeatScheduleError(
            f"beat entry {name!r} must be a dict ({{'task': 'proj.tasks.name', "
            f"'schedule': crontab(...)}}), got {type(entry).__name__}"
        )
    unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
    if unknown:
        raise BeatScheduleError(
            f"beat entry {name!r}: unknown key(s) {', '.join(unknown)}; an entry takes "
            f"{', '.join(ENTRY_KEYS)}"
        )
    if not isinstance(entry.get("task"), str) or not entry.get("task"):
        raise BeatScheduleError(
            f"beat entry {name!r}: 'task' must be the task's name ('proj.tasks.cleanup')"
        )
    if entry.get("schedule") is None:
        raise BeatScheduleError(f"beat entry {name!r} has no 'schedule'")


__all__ = [
    "BEAT_HEADER",
    "BeatEntry",
    "BeatScheduleError",
    "apply_options",
    "bound_arguments",
    "call_options",
    "check_keys",
    "condition_of",
]
