"""Cron occasions across DST changes (``pynenc.trigger.cron``), and the trigger pass run
through them with an injected clock.

Europe/Madrid: on 2026-03-29 the clocks go forward (02:00 CET -> 03:00 CEST: 02:xx does not
exist); on 2026-10-25 they go back (03:00 CEST -> 02:00 CET: 02:xx happens twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pynenc import Pynenc
from pynenc.trigger import TriggerBuilder, TriggerContext
from pynenc.trigger.conditions import CronCondition
from pynenc.trigger.cron import CronSchedule
from tests.unit.trigger_fixtures import on_memory

MADRID = "Europe/Madrid"
ZONE = ZoneInfo(MADRID)


def _at(*fields: int, fold: int = 0) -> float:
    return dt.datetime(*fields, tzinfo=ZONE, fold=fold).timestamp()  # type: ignore[misc]


def _walls(stamps: list[float]) -> list[str]:
    return [dt.datetime.fromtimestamp(s, ZONE).isoformat() for s in stamps]


def _between(expression: str, after: float, until: float) -> list[str]:
    return _walls(CronSchedule(CronCondition(expression), MADRID).between(after, until, 100))


# -- the schedule ----------------------------------------------------------------------------


def test_spring_forward_a_time_that_does_not_exist_runs_once_after_the_gap() -> None:
    after, until = _at(2026, 3, 28, 12), _at(2026, 3, 30, 12)
    assert _between("30 2 * * *", after, until) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    night = _between("*/30 * * * *", _at(2026, 3, 29, 1, 0), _at(2026, 3, 29, 3, 30))
    assert night == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


def test_fall_back_a_fixed_time_runs_once_and_a_frequent_job_in_both_copies() -> None:
    after, until = _at(2026, 10, 24, 12), _at(2026, 10, 26, 12)
    assert _between("30 2 * * *", after, until) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    hourly = _between("0 * * * *", _at(2026, 10, 25, 1, 30), _at(2026, 10, 25, 3, 30))
    assert hourly == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        # from inside the second 02:xx: 02:30 CEST has passed, and 02:30 CET does not run
        ("30 2 * * *", _at(2026, 10, 25, 2, 10, fold=1), "2026-10-26T02:30:00+01:00"),
        ("0 2 * * *", _at(2026, 10, 25, 2, 0, fold=1), "2026-10-26T02:00:00+01:00"),
        ("*/30 * * * *", _at(2026, 10, 25, 2, 10, fold=1), "2026-10-25T02:30:00+01:00"),
        ("15 * * * *", _at(2026, 10, 25, 2, 20, fold=0), "2026-10-25T02:15:00+01:00"),
    ],
)
def test_the_next_occasion_is_after_the_start_inside_the_repeated_hour(
    expression: str, start: float, expected: str
) -> None:
    found = CronSchedule(CronCondition(expression), MADRID).next_after(start)
    assert found > start
    assert _walls([found]) == [expected]


# -- the pass, with an injected clock --------------------------------------------------------

app = Pynenc(app_id="tests-trigger-cron", config_values={"timezone": MADRID})
NOW = [0.0]


def occasion_args(context: TriggerContext) -> dict[str, Any]:
    assert context.occasion is not None
    return {"occasion": context.occasion.isoformat()}


@app.task(triggers=TriggerBuilder().on_cron("30 2 * * *").with_arguments(occasion_args))
def nightly(occasion: str) -> str:
    return occasion


@app.task(triggers=TriggerBuilder().on_cron("*/30 * * * *").with_arguments(occasion_args))
def half_hourly(occasion: str) -> str:
    return occasion


@pytest.fixture(autouse=True)
def memory_app() -> Iterator[Pynenc]:
    with on_memory(app, lambda: NOW[0]) as fresh:
        yield fresh


def _fired(task: Any) -> list[str]:
    backend = app.state_backend
    records = [r for r in backend.get_many(backend.find(task_id=task.task_id.key)) if r]
    occasions = [app.serializer.loads(r.arguments["occasion"]) for r in records]
    return sorted(occasions, key=lambda o: dt.datetime.fromisoformat(o).timestamp())


def _minute_by_minute(start: float, minutes: int) -> list[float]:
    """Run a pass at every minute from ``start``; the waits the passes asked for."""
    waits = []
    for minute in range(minutes + 1):
        NOW[0] = start + 60 * minute
        waits.append(app.trigger.run_pass())
    return waits


def test_passes_through_the_spring_forward_night() -> None:
    _minute_by_minute(_at(2026, 3, 29, 1, 0), 150)  # to 04:30 CEST
    assert _fired(nightly) == ["2026-03-29T03:00:00+02:00"]
    assert _fired(half_hourly) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T04:00:00+02:00",
        "2026-03-29T04:30:00+02:00",
    ]


def test_passes_through_the_fall_back_night() -> None:
    _minute_by_minute(_at(2026, 10, 25, 1, 10), 170)  # to 03:00 CET
    assert _fired(nightly) == ["2026-10-25T02:30:00+02:00"]
    assert _fired(half_hourly) == [
        "2026-10-25T01:30:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_a_trigger_first_seen_in_the_repeated_hour_does_not_run_what_came_before() -> None:
    waits = _minute_by_minute(_at(2026, 10, 25, 2, 10, fold=1), 30)  # 02:10 CET to 02:40 CET
    assert _fired(nightly) == []  # its 02:30 was the first one, before the runners saw it
    assert _fired(half_hourly) == ["2026-10-25T02:30:00+01:00"]
    assert all(wait > 0 for wait in waits)  # the passes never ask to run again at once
