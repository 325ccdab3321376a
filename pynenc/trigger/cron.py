"""Cron occasions in a timezone, computed by ``cronsim`` (a maintained cron library).

Across a DST change the wall clock decides, as cron does: a time that does not exist
(spring forward) runs once, at the first minute after the gap; a time that happens twice
(fall back) runs once, the first time, for a job at a fixed hour, while a job that runs
every few minutes or hourly keeps running through both copies of the repeated hour.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

from cronsim import CronSim

from pynenc.trigger.conditions import CronCondition


class CronSchedule:
    """The occasions of ``condition`` in ``timezone``, as seconds since the epoch."""

    def __init__(self, condition: CronCondition, timezone: str) -> None:
        self.condition = condition
        self.zone = ZoneInfo(timezone)
        #: the last answer: ``next_after(t)`` is ``_next`` for every ``t`` in
        #: ``[_from, _next)`` (no occasion in between). The trigger pass asks about the same
        #: times at each pass until an occasion comes: answered without cronsim
        self._from = self._next = math.inf

    def next_after(self, timestamp: float) -> float:
        """The first occasion strictly after ``timestamp``."""
        if self._from <= timestamp < self._next:
            return self._next
        found = self._compute(timestamp)
        self._from, self._next = timestamp, found
        return found

    def _compute(self, timestamp: float) -> float:
        start = dt.datetime.fromtimestamp(timestamp, self.zone)
        sim = CronSim(self.condition.expression, start)
        if self.condition.day_and:
            sim.day_and = True  # cronsim's switch for "both day fields must match"
        # a fixed-time job is computed on the wall clock: from the second copy of a
        # repeated hour, cronsim's next is the first copy of a time in it, already past
        return next(t for t in (found.timestamp() for found in sim) if t > timestamp)

    def between(self, after: float, until: float, limit: int) -> list[float]:
        """Up to ``limit`` of the latest occasions in ``(after, until]``, in order."""
        found: list[float] = []
        when = after
        while True:
            when = self.next_after(when)
            if when > until:
                return found[-limit:]
            found.append(when)
            if len(found) > 2 * limit:
                del found[:limit]
