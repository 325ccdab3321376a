"""The table "Across DST changes" of docs/triggers.md, as the code computes it: the runs of
each job in Europe/Madrid on the night the clocks spring forward (30 March 2025, 02:00 ->
03:00) and on the night they fall back (26 October 2025, 02:00-02:59 twice)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pynenc.trigger.conditions import CronCondition
from pynenc.trigger.cron import CronSchedule

MADRID = ZoneInfo("Europe/Madrid")
SPRING, FALL = (2025, 3, 30), (2025, 10, 26)
#: the hours 01 to 03 of the fall-back night, 02 twice
HOURS = [("01", "+0200"), ("02", "+0200"), ("02", "+0100"), ("03", "+0100")]


def _runs(expression: str, day: tuple[int, int, int]) -> list[str]:
    """The runs between 00:00 and 05:00 that night, as local times with their offset."""
    schedule = CronSchedule(CronCondition(expression), "Europe/Madrid")
    start = dt.datetime(*day, 0, 0, tzinfo=MADRID).timestamp() - 1
    end = dt.datetime(*day, 5, 0, tzinfo=MADRID).timestamp()
    found = schedule.between(start, end, 100)
    return [dt.datetime.fromtimestamp(t, MADRID).strftime("%H:%M%z") for t in found]


@pytest.mark.parametrize(
    ("expression", "spring", "fall"),
    [
        ("30 2 * * *", ["03:00+0200"], ["02:30+0200"]),
        ("0,30 2 * * *", ["03:00+0200"], ["02:00+0200", "02:30+0200"]),
        (
            "15 * * * *",
            ["00:15+0100", "01:15+0100", "03:15+0200", "04:15+0200"],
            ["00:15+0200", "01:15+0200", "02:15+0200", "02:15+0100", "03:15+0100", "04:15+0100"],
        ),
        (
            "*/20 1-3 * * *",
            ["01:00+0100", "01:20+0100", "01:40+0100", "03:00+0200", "03:20+0200", "03:40+0200"],
            [f"{hour}:{minute}{offset}" for hour, offset in HOURS for minute in ("00", "20", "40")],
        ),
        (
            "*/20 2 * * *",
            [],
            ["02:00+0200", "02:20+0200", "02:40+0200", "02:00+0100", "02:20+0100", "02:40+0100"],
        ),
    ],
)
def test_runs_across_dst_changes(expression: str, spring: list[str], fall: list[str]) -> None:
    assert _runs(expression, SPRING) == spring
    assert _runs(expression, FALL) == fall
