"""A fixed-time cron job in the hour repeated when DST ends (Madrid, 26 October 2025:
02:00-02:59 happens at +02:00, then again at +01:00): it runs once, at the first copy, and
from the second copy its next occasion is the next day's, never one already past (the
pass would then think something is due at once, and the scheduler would spin)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from pynenc import Pynenc
from pynenc.testing import in_memory
from pynenc.trigger.conditions import CronCondition
from pynenc.trigger.cron import CronSchedule
from tests.apps import trigger_checks

MADRID = ZoneInfo("Europe/Madrid")


def _at(hour: int, minute: int, *, fold: int = 0, day: int = 26) -> float:
    return dt.datetime(2025, 10, day, hour, minute, tzinfo=MADRID, fold=fold).timestamp()


@pytest.mark.parametrize("fold", [0, 1], ids=["first copy", "second copy"])
def test_next_occasion_is_after_the_time_asked(fold: int) -> None:
    schedule = CronSchedule(CronCondition("50 2 * * *"), "Europe/Madrid")
    start = _at(2, 10, fold=fold)
    expected = _at(2, 50) if fold == 0 else _at(2, 50, day=27)
    assert schedule.next_after(start) == expected


def test_the_job_runs_once_through_the_night() -> None:
    schedule = CronSchedule(CronCondition("50 2 * * *"), "Europe/Madrid")
    night = schedule.between(_at(0, 0), _at(6, 0), 10)
    assert night == [_at(2, 50)]  # the first copy only


@pytest.fixture
def app() -> Iterator[Pynenc]:
    app = trigger_checks.app
    with in_memory(app):
        app.trigger.lease_lost()
        yield app
    app.trigger.clock = time.time


def test_the_pass_waits_until_the_next_day_from_the_second_copy(app: Pynenc) -> None:
    app.trigger.clock = lambda: _at(1, 0)
    app.trigger.run_pass()  # first sighting
    app.trigger.clock = lambda: _at(2, 55)  # the first 02:50 passed: it fires
    app.trigger.run_pass()
    app.trigger.clock = lambda: _at(2, 10, fold=1)  # an hour later, back at 02:10
    wait = app.trigger.run_pass()
    assert wait > 0  # the interval trigger is due within 0.05 s, not at once
    [nightly] = [s for s in app.trigger.status() if s.definition.task_key.endswith(".nightly")]
    assert nightly.fired == 1
    assert nightly.next_due == _at(2, 50, day=27)
