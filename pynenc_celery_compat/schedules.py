"""``celery.schedules`` for projects on pynenc: ``crontab``, ``schedule`` and ``solar``.

Change ``from celery.schedules import crontab`` to ``from pynenc_celery_compat.schedules
import crontab`` (or ``from pynenc_celery_compat import crontab``); Celery's own classes keep
working in ``beat_schedule`` too. The fields are parsed by Celery's own code, so a crontab
means here what it means to Celery: ``crontab(minute, hour, day_of_week, day_of_month,
month_of_year)`` (that order, not a cron line's), names (``mon-fri``, ``jan``), ranges,
steps, lists and sets, and both day fields must match. Two additions: Sunday may also be
written 7, as in cron (Celery 5.7 refuses 7), and :meth:`crontab.from_string` accepts any
whitespace between the fields.

pynenc runs the schedule with its native triggers (:mod:`pynenc_celery_compat.beat`):
:func:`cron_expression` is the cron line a crontab becomes. ``solar`` has no trigger:
using one in a schedule fails with a clear error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import schedules as _celery
from celery.schedules import (
    BaseSchedule,
    ParseException,
    crontab_parser,
    maybe_schedule,
    schedstate,
    schedule,
)

#: each field of a cron line: (attribute of Celery's crontab, lowest, highest value)
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day_of_month", 1, 31),
    ("month_of_year", 1, 12),
    ("day_of_week", 0, 6),
)
_SUNDAY_AS_SEVEN = 8  #: the day-of-week parser's bound that lets 7 through (then read as 0)


class crontab(_celery.crontab):  # type: ignore[misc]
    """Celery's ``crontab`` (``crontab(minute='*', hour='*', day_of_week='*',
    day_of_month='*', month_of_year='*')``), with Sunday also as 7."""

    @staticmethod
    def _expand_cronspec(cronspec: Any, max_: int, min_: int = 0) -> set[Any]:
        if max_ == 7 and min_ == 0:  # day_of_week (the only 0-6 field): 7 is Sunday too
            days = _celery.crontab._expand_cronspec(cronspec, _SUNDAY_AS_SEVEN, min_)
            return {0 if day == 7 else day for day in days}
        found: set[Any] = _celery.crontab._expand_cronspec(cronspec, max_, min_)
        return found

    @classmethod
    def from_string(cls, crontab: str) -> crontab:
        """A crontab from a cron line, ``'minute hour day-of-month month day-of-week'``.

        :raises ValueError: the line has not 5 fields, or a field is invalid.
        """
        fields = str(crontab).split()
        if len(fields) != 5:
            raise ValueError(
                f"crontab.from_string({crontab!r}): a cron line has 5 fields, 'minute hour "
                "day-of-month month day-of-week' (e.g. '*/15 9-17 * * mon-fri')"
            )
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        return cls(minute, hour, day_of_week, day_of_month, month_of_year)

    def cron_expression(self) -> str:
        """The cron line pynenc runs this crontab as (see :func:`cron_expression`)."""
        return cron_expression(self)


class solar(_celery.solar):  # type: ignore[misc]
    """Celery's ``solar(event, lat, lon)``, accepted so a schedule module imports; pynenc
    has no trigger for it: a beat entry using it fails when the schedule is read (see
    :func:`pynenc_celery_compat.beat.condition_of`). Does not need ``ephem``."""

    def __init__(self, event: str, lat: float, lon: float, **kwargs: Any) -> None:
        if event not in self._all_events:
            raise ValueError(
                f"solar({event!r}, ...): unknown event; use one of "
                f"{', '.join(sorted(self._all_events))}"
            )
        if not -90 <= lat <= 90 or not -180 <= lon <= 180:
            raise ValueError(
                f"solar({event!r}, {lat}, {lon}): latitude -90..90, longitude -180..180"
            )
        self.event, self.lat, self.lon = event, lat, lon
        BaseSchedule.__init__(self, **kwargs)

    def remaining_estimate(self, last_run_at: Any) -> Any:
        raise NotImplementedError(SOLAR_UNSUPPORTED)

    def is_due(self, last_run_at: Any) -> Any:
        raise NotImplementedError(SOLAR_UNSUPPORTED)


SOLAR_UNSUPPORTED = (
    "solar schedules (sunrise, sunset, dawn, dusk…) are not supported by pynenc: give the "
    "entry a crontab at the local time of the event in the app's timezone (e.g. "
    "crontab(hour=7, minute=30)), or keep this entry on celery beat"
)


def cron_expression(schedule: Any) -> str:
    """The 5-field cron line of a Celery ``crontab`` (this package's or Celery's own),
    built from the sets Celery parsed, so it means what the crontab means to Celery when
    both day fields must match (pynenc's ``on_cron(..., day_and=True)``)."""
    return " ".join(_field(getattr(schedule, name), low, high) for name, low, high in _FIELDS)


def _field(values: Iterable[int], low: int, high: int) -> str:
    numbers = sorted({int(value) for value in values})
    if numbers == list(range(low, high + 1)):
        return "*"
    step = numbers[1] - numbers[0] if len(numbers) >= 3 else 0
    if step > 1 and numbers == list(range(numbers[0], numbers[-1] + 1, step)):
        if numbers[0] == low and numbers[-1] + step > high:
            return f"*/{step}"
        return f"{numbers[0]}-{numbers[-1]}/{step}"
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        if previous - start >= 2:
            parts.append(f"{start}-{previous}")
        else:
            parts.extend(str(value) for value in range(start, previous + 1))
        if number is not None:
            start = previous = number
    return ",".join(parts)


__all__ = [
    "BaseSchedule",
    "ParseException",
    "SOLAR_UNSUPPORTED",
    "cron_expression",
    "crontab",
    "crontab_parser",
    "maybe_schedule",
    "schedstate",
    "schedule",
    "solar",
]
