"""QA of triggers: a cron schedule remembers its last answer (the trigger pass asks about
the same times at every pass), and gives the same occasions as a fresh one, through both
DST nights, asked in any order."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from pynenc.trigger.conditions import CronCondition
from pynenc.trigger.cron import CronSchedule

MADRID = "Europe/Madrid"
NIGHTS = [
    dt.datetime(2025, 3, 29, 23, 0, tzinfo=ZoneInfo(MADRID)).timestamp(),  # spring forward
    dt.datetime(2025, 10, 25, 23, 0, tzinfo=ZoneInfo(MADRID)).timestamp(),  # fall back
]


@pytest.mark.parametrize(
    "expression", ["30 2 * * *", "0,30 2 * * *", "15 * * * *", "*/20 1-3 * * *", "* * * * *"]
)
def test_remembered_answers_are_the_fresh_ones(expression: str) -> None:
    condition = CronCondition(expression)
    kept = CronSchedule(condition, MADRID)
    chance = random.Random(expression)
    for night in NIGHTS:
        times = [night + step * 37.0 for step in range(8 * 3600 // 37)]
        asked = times + chance.sample(times, 200)  # in order, then again out of order
        for when in asked:
            assert kept.next_after(when) == CronSchedule(condition, MADRID).next_after(when)
        occasions = kept.between(night, night + 8 * 3600, 1000)
        assert occasions == CronSchedule(condition, MADRID).between(night, night + 8 * 3600, 1000)
