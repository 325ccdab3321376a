"""Cron and interval triggers with two runner processes: each occasion fires once.

The test moves the runners' clock (``tests.integration.trigger_tasks``) half an hour at a
time through the night the clocks go back in Madrid (2026-10-25, 03:00 CEST -> 02:00 CET):
the repeated hour has two 02:00 and two 02:30, so a job every half hour or every hour
runs in both copies, and a job at 02:30 runs once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration import trigger_tasks as tasks
from tests.integration.deployments import wait_until
from tests.integration.trigger_helpers import KINDS, Triggers, header, running

ZONE = ZoneInfo(tasks.ZONE)
#: 01:30 CEST on the night the clocks go back; the runners first see the triggers then
START = dt.datetime(2026, 10, 25, 1, 30, tzinfo=ZONE).timestamp()
STEP = 1800.0
STEPS = 5  #: 02:00 CEST, 02:30 CEST, 02:00 CET, 02:30 CET, 03:00 CET


def _wall(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, ZONE).isoformat()


def _step_through_the_night(setup: Triggers) -> list[float]:
    """Move the clock one step at a time, each once the step's occasions have fired."""
    occasions = []
    for number in range(1, STEPS + 1):
        occasions.append(setup.advance(STEP))
        # both fire at every step: wait for them before the next one (a later clock would
        # find this occasion late, and the missed policy would decide instead)
        setup.wait_runs("half_hourly", number, f"at {_wall(occasions[-1])}")
        setup.wait_runs("every_half_hour", number, f"at {_wall(occasions[-1])}")
    setup.app.trigger.emit_event("ping")  # a pass after the last step: nothing more fired
    setup.wait_runs("pong", 1)
    return occasions


@pytest.mark.parametrize("kind", KINDS)
def test_cron_and_interval_fire_once_per_occasion_through_a_dst_change(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request, clock=START) as setup:
        occasions = _step_through_the_night(setup)
        half_hourly = setup.check_once("half_hourly", STEPS)
        interval = setup.check_once("every_half_hour", STEPS)
        nightly = setup.check_once("nightly", 1)
        hourly = setup.check_once("hourly", 3)

    walls = [_wall(o) for o in occasions]
    assert walls == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    # the provider got each occasion, the header names it and the trigger
    half_hourly.sort(key=lambda r: header(r)["occasion"])
    assert [header(r)["occasion"] for r in half_hourly] == occasions
    assert [r["args"]["occasion"] for r in half_hourly] == walls
    assert {header(r)["kind"] for r in half_hourly} == {"cron"}
    assert {header(r)["trigger"].partition("@")[0] for r in half_hourly} == {
        f"{tasks.__name__}.half_hourly"
    }
    # interval ticks: every 1800 s from the first pass (START), each once
    assert sorted(header(r)["occasion"] for r in interval) == occasions
    assert {header(r)["kind"] for r in interval} == {"interval"}
    # 02:30 wall time happens twice: a job at a fixed time runs the first time only
    assert [r["args"]["occasion"] for r in nightly] == ["2026-10-25T02:30:00+02:00"]
    # an hourly job runs in both copies of 02:00
    hourly.sort(key=lambda r: header(r)["occasion"])
    assert [r["args"]["occasion"] for r in hourly] == [walls[0], walls[2], walls[4]]


@pytest.mark.parametrize("kind", KINDS)
def test_the_trigger_status_shows_the_last_firing_and_the_next_due_time(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request, clock=START) as setup:
        setup.advance(STEP)
        setup.wait_runs("half_hourly", 1)

        def status_now() -> dict[str, Any]:
            return {s.definition.task_key.rpartition(".")[2]: s for s in setup.app.trigger.status()}

        # the pass stores its state once it has made its calls: a call may run before that
        wait_until(lambda: status_now()["half_hourly"].fired, 30, "the pass's state")
        status = status_now()
        half_hourly = status["half_hourly"]
        assert half_hourly.fired == 1 and half_hourly.last_error is None
        assert half_hourly.last_invocation == setup.runs("half_hourly")[0]["id"]
        assert half_hourly.next_due == START + 2 * STEP
        assert status["every_half_hour"].next_due == START + 2 * STEP
        assert _wall(status["nightly"].next_due or 0) == "2026-10-25T02:30:00+02:00"
        assert status["ship"].next_due is None and status["ship"].fired == 0
