"""Beat schedules side by side: Celery 5.7's schedule objects and the triggers they become.

For the same entries, Celery's own ``crontab`` / ``schedule`` say when a run is due
(``remaining_estimate`` and ``is_due`` from a given ``last_run_at``, with ``nowfun`` fixing
"now") and pynenc's trigger pass, run on the compat app with an injected clock, fires and
plans the next run: the times must agree. Reference times are away from DST changes (see
docs/celery.md, "Beat (periodic tasks)", for what differs across them).

No worker is needed: the pass registers the triggered calls on the app's memory backend.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import celery
import pytest
from celery import _state
from celery import schedules as celery_schedules

from pynenc.trigger.conditions import CronCondition
from pynenc.trigger.cron import CronSchedule
from pynenc_celery_compat import Celery, beat_install
from pynenc_celery_compat import schedules as ours
from tests.celery_compat import beat_tasks

#: crontabs as Celery takes them (its keyword names and order): steps, ranges, names,
#: lists, both day fields, month limits
CRONTABS: list[dict[str, Any]] = [
    {},
    {"minute": "*/15"},
    {"minute": "0,30", "hour": "9-17"},
    {"minute": 0, "hour": "*/3"},
    {"minute": 30, "hour": 7, "day_of_week": "mon-fri"},
    {"minute": 0, "hour": 0, "day_of_week": "sun"},
    {"minute": 0, "hour": 0, "day_of_week": 0},
    {"minute": 0, "hour": 12, "day_of_week": "sat,sun"},
    {"minute": 45, "hour": 23, "day_of_week": "fri-mon"},
    {"minute": 0, "hour": 0, "day_of_month": 1},
    {"minute": 0, "hour": 0, "day_of_month": "1,15", "day_of_week": "mon"},
    {"minute": 15, "hour": 2, "day_of_month": 13, "day_of_week": "fri"},
    {"minute": 0, "hour": 0, "day_of_month": 31},
    {"minute": 0, "hour": 9, "day_of_month": 29, "month_of_year": 2},
    {"minute": 0, "hour": 6, "month_of_year": "jan-mar,oct"},
    {"minute": "5-50/10", "hour": "8-18/2"},
    {"minute": 0, "hour": 0, "day_of_month": 1, "month_of_year": "*/3"},
    {"minute": [0, 20, 40], "hour": {1, 13}},
    {"minute": "*/7", "hour": "10-11", "day_of_month": "10-20", "month_of_year": "5-9"},
]
LINES = ["*/20 1-5 * * 1-5", "0 4 1 * *", "30 23 * 12 sat", "0 */6 1-7 * mon"]
ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]
#: last runs, as wall-clock times in each zone, well away from the DST changes of those zones
REFERENCES = [
    dt.datetime(2024, 5, 17, 10, 17, 45),
    dt.datetime(2024, 1, 10, 23, 59, 59),
    dt.datetime(2024, 7, 31, 12, 0),
    dt.datetime(2024, 2, 28, 8, 0, 30),
    dt.datetime(2023, 12, 31, 23, 30),
]
#: how many next runs are compared from each reference time
RUNS = 6


@pytest.fixture(autouse=True)
def keep_current_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_state, "default_app", _state.default_app)
    monkeypatch.setattr(_state._tls, "current_app", _state._tls.current_app, raising=False)
    yield


def celery_app(zone: str) -> Any:
    app = celery.Celery("beat-sbs", set_as_current=False)
    app.conf.timezone = zone
    return app


def celery_runs(schedule: Any, last: dt.datetime, count: int) -> list[float]:
    """The next ``count`` runs Celery's schedule gives after ``last`` (each one taken as
    the next last run, with "now" at it, as beat does when it sends on time)."""
    runs = []
    for _ in range(count):
        schedule.nowfun = lambda last=last: last
        last = last + schedule.remaining_estimate(last)
        runs.append(last.timestamp())
    return runs


def pynenc_runs(schedule: Any, zone: str, last: dt.datetime, count: int) -> list[float]:
    """The next ``count`` runs of the cron trigger the crontab becomes."""
    cron = CronSchedule(CronCondition(ours.cron_expression(schedule), day_and=True), zone)
    runs, when = [], last.timestamp()
    for _ in range(count):
        when = cron.next_after(when)
        runs.append(when)
    return runs


def shown(stamps: list[float], zone: str) -> list[str]:
    return [dt.datetime.fromtimestamp(s, ZoneInfo(zone)).isoformat() for s in stamps]


def before_dst(
    last: dt.datetime, theirs: list[float], mine: list[float], zone: str
) -> tuple[list[str], list[str]]:
    """Both lists of runs up to the first one past a DST change of ``zone`` (where Celery
    and pynenc differ on purpose: see ``test_across_a_dst_change_...``), shown."""
    offset = last.utcoffset()
    kept = 0
    for a, b in zip(theirs, mine, strict=True):
        zoned = [dt.datetime.fromtimestamp(x, ZoneInfo(zone)) for x in (a, b)]
        if any(z.utcoffset() != offset for z in zoned):
            break
        kept += 1
    return shown(theirs[:kept], zone), shown(mine[:kept], zone)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("fields", CRONTABS, ids=[str(c) for c in CRONTABS])
def test_a_crontab_runs_at_celerys_times(fields: dict[str, Any], zone: str) -> None:
    theirs = celery_schedules.crontab(**fields, app=celery_app(zone))
    mine = ours.crontab(**fields)
    for reference in REFERENCES:
        last = reference.replace(tzinfo=ZoneInfo(zone))
        expected = celery_runs(theirs, last, RUNS)
        celery_said, pynenc_said = before_dst(
            last, expected, pynenc_runs(mine, zone, last, RUNS), zone
        )
        assert pynenc_said == celery_said


@pytest.mark.parametrize("line", LINES)
def test_from_string_reads_a_cron_line_as_celery(line: str) -> None:
    zone = "Europe/Madrid"
    theirs = celery_schedules.crontab.from_string(line)
    theirs.app = celery_app(zone)
    mine = ours.crontab.from_string(line)
    assert (mine.minute, mine.hour, mine.day_of_week) == (
        theirs.minute,
        theirs.hour,
        theirs.day_of_week,
    )
    assert (mine.day_of_month, mine.month_of_year) == (theirs.day_of_month, theirs.month_of_year)
    for reference in REFERENCES:
        last = reference.replace(tzinfo=ZoneInfo(zone))
        expected = celery_runs(theirs, last, RUNS)
        celery_said, pynenc_said = before_dst(
            last, expected, pynenc_runs(mine, zone, last, RUNS), zone
        )
        assert pynenc_said == celery_said


def test_sunday_is_also_7_here_where_celery_refuses_it() -> None:
    for spec in ("7", 7, "5-7", "sat-7"):
        with pytest.raises(ValueError):
            celery_schedules.crontab(day_of_week=spec)
    assert ours.crontab(day_of_week=7).day_of_week == {0}
    assert ours.crontab(day_of_week="5-7").day_of_week == {0, 5, 6}
    assert ours.crontab(day_of_week="1-7/2").day_of_week == {0, 1, 3, 5}
    assert ours.crontab.from_string("0 0 * * 7") == celery_schedules.crontab(0, 0, 0)
    # every day-of-week spec Celery takes means the same here
    for spec in ("*", "*/2", "*/3", "fri-sun", "sat-mon", "mon-sun", "0-6", "sun", 0, {1, 3}):
        assert ours.crontab(day_of_week=spec).day_of_week == (
            celery_schedules.crontab(day_of_week=spec).day_of_week
        )


def test_our_classes_are_celerys() -> None:
    assert issubclass(ours.crontab, celery_schedules.crontab)
    assert ours.schedule is celery_schedules.schedule
    assert issubclass(ours.solar, celery_schedules.solar)
    assert ours.crontab(minute="*/5", hour="9-17") == celery_schedules.crontab("*/5", "9-17")


# -- through the trigger pass of the compat app ------------------------------------------


class Pass:
    """A compat app with one beat entry, its trigger pass run at chosen times."""

    def __init__(self, schedule: Any, zone: str, relative: bool = False) -> None:
        self.app = Celery(  # a name of its own: a memory backend's state is per app
            f"beat-pass-{uuid.uuid4().hex}",
            broker="memory://",
            backend="cache+memory://",
            set_as_current=False,
        )
        self.app.conf.timezone = zone
        self.app.conf.beat_schedule = {
            "entry": {"task": beat_tasks.tick.name, "schedule": schedule, "relative": relative}
        }
        self.pynenc = self.app.pynenc
        self.now = 0.0
        self.pynenc.trigger.clock = lambda: self.now
        assert len(beat_install.install(self.app, self.pynenc)) == 1

    def at(self, when: dt.datetime) -> tuple[int, float]:
        """Run a pass at ``when``: how many times the entry has fired, and when it runs
        next (seconds since the epoch)."""
        self.now = when.timestamp()
        self.pynenc.trigger.run_pass()
        (status,) = self.pynenc.trigger.status()
        assert status.last_error is None, status.last_error
        assert status.next_due is not None
        return status.fired, status.next_due


#: (last run, now) pairs: now before the next run, just at it, a little after, long after
def moments(last: dt.datetime) -> list[dt.timedelta]:
    return [
        dt.timedelta(seconds=20),
        dt.timedelta(minutes=7, seconds=13),
        dt.timedelta(hours=2, minutes=1),
        dt.timedelta(days=1, hours=3),
        dt.timedelta(days=9),
    ]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "Asia/Kolkata"])
@pytest.mark.parametrize("fields", CRONTABS[:12], ids=[str(c) for c in CRONTABS[:12]])
def test_a_crontab_entry_is_due_when_celery_says_so(fields: dict[str, Any], zone: str) -> None:
    last = dt.datetime(2024, 5, 17, 10, 17, 45, tzinfo=ZoneInfo(zone))
    for after in moments(last):
        now = last + after
        theirs = celery_schedules.crontab(**fields, app=celery_app(zone), nowfun=lambda n=now: n)
        due, next_in = theirs.is_due(last)
        run = Pass(ours.crontab(**fields), zone)
        assert run.at(last)[0] == 0  # the first pass sees the entry: nothing to catch up
        fired, next_due = run.at(now)
        assert (fired == 1, next_due) == (due, pytest.approx(now.timestamp() + next_in)), (
            f"{fields} last {last} now {now}"
        )


@pytest.mark.parametrize(
    "every", [10, 10.5, 60, 90, dt.timedelta(minutes=5), dt.timedelta(hours=2), 86400]
)
def test_an_interval_entry_is_due_when_celery_says_so(every: Any) -> None:
    zone = "Europe/Madrid"
    last = dt.datetime(2024, 5, 17, 10, 17, 45, tzinfo=ZoneInfo(zone))
    seconds = every.total_seconds() if isinstance(every, dt.timedelta) else float(every)
    # before the run, then exactly at it (beat on time); Celery's next run counts from the
    # send, pynenc's from a fixed grid: they agree when the send is on time
    for now in (last + dt.timedelta(seconds=seconds / 3), last + dt.timedelta(seconds=seconds)):
        theirs = celery_schedules.schedule(every, app=celery_app(zone), nowfun=lambda n=now: n)
        due, next_in = theirs.is_due(last)
        run = Pass(every, zone)
        run.at(last)
        fired, next_due = run.at(now)
        assert (fired == 1, next_due) == (due, pytest.approx(now.timestamp() + next_in))


@pytest.mark.parametrize("every", [60, 3600, 86400, dt.timedelta(hours=1)])
@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_relative_intervals_of_one_unit_run_at_celerys_rounded_times(every: Any, zone: str) -> None:
    theirs = celery_schedules.schedule(every, relative=True, app=celery_app(zone))
    run = Pass(every, zone, relative=True)
    for reference in REFERENCES:
        last = reference.replace(tzinfo=ZoneInfo(zone))
        expected = celery_runs(theirs, last, RUNS)
        condition = run.pynenc.trigger.definitions()[0].conditions[0]
        assert isinstance(condition, CronCondition)
        cron = CronSchedule(condition, zone)
        found, when = [], last.timestamp()
        for _ in range(RUNS):
            when = cron.next_after(when)
            found.append(when)
        celery_said, pynenc_said = before_dst(last, expected, found, zone)
        assert pynenc_said == celery_said


def test_across_a_dst_change_pynenc_keeps_the_wall_clock_time() -> None:
    """Celery 5.7 moves a weekly midnight crontab to Saturday 23:00 after Madrid's spring
    change (its week arithmetic keeps the old UTC offset); pynenc's cron follows the wall
    clock, as cron does: still Sunday 00:00."""
    zone = "Europe/Madrid"
    last = dt.datetime(2024, 3, 24, 0, 0, tzinfo=ZoneInfo(zone))  # a Sunday, before the change
    theirs = celery_schedules.crontab(minute=0, hour=0, day_of_week="sun", app=celery_app(zone))
    mine = ours.crontab(minute=0, hour=0, day_of_week="sun")
    assert shown(celery_runs(theirs, last, 2), zone) == [
        "2024-03-31T00:00:00+01:00",
        "2024-04-06T23:00:00+02:00",
    ]
    assert shown(pynenc_runs(mine, zone, last, 2), zone) == [
        "2024-03-31T00:00:00+01:00",
        "2024-04-07T00:00:00+02:00",
    ]
