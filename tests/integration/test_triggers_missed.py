"""Occasions missed while no runner evaluated (the clock jumps hours ahead), with two runner
processes: ``trigger.missed = "once"`` runs the latest missed occasion once, ``"skip"``
none; the next occasion on time runs either way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration import trigger_tasks as tasks
from tests.integration.trigger_helpers import KINDS, Triggers, header, running

ZONE = ZoneInfo(tasks.ZONE)
START = dt.datetime(2026, 6, 1, 12, 0, 30, tzinfo=ZONE).timestamp()
#: 3 h 14 min 30 s later: 13:00, 14:00 and 15:00 were missed (more than a minute ago)
JUMP = dt.datetime(2026, 6, 1, 15, 15, tzinfo=ZONE).timestamp()
NEXT = dt.datetime(2026, 6, 1, 16, 0, tzinfo=ZONE).timestamp()  #: on time


def _occasions(setup: Triggers, task: str) -> list[str]:
    runs = sorted(setup.runs(task), key=lambda r: header(r)["occasion"])
    return [r["args"]["occasion"] for r in runs]


def _a_pass_after(setup: Triggers, pongs: int) -> None:
    setup.app.trigger.emit_event("ping")
    setup.wait_runs("pong", pongs)


@pytest.mark.parametrize("policy", ["once", "skip"])
@pytest.mark.parametrize("kind", KINDS)
def test_missed_occasions_run_once_or_are_skipped(
    kind: str, policy: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request, clock=START, missed=policy) as setup:
        setup.set_clock(JUMP)
        if policy == "once":
            setup.wait_runs("hourly", 1)
            setup.wait_runs("every_half_hour", 1)
        _a_pass_after(setup, 1)  # a pass after the jump: whatever it fires is registered
        after_jump = {t: _occasions(setup, t) for t in ("hourly", "half_hourly")}
        missed_ticks = [header(r)["occasion"] for r in setup.runs("every_half_hour")]
        setup.set_clock(NEXT)
        setup.wait_runs("hourly", 2 if policy == "once" else 1)
        _a_pass_after(setup, 2)
        hourly = setup.check_once("hourly", 2 if policy == "once" else 1)
        setup.check_once("half_hourly", 2 if policy == "once" else 1)

    if policy == "once":
        # the latest missed occasion of each, once
        latest = "2026-06-01T15:00:00+02:00"
        assert after_jump == {"hourly": [latest], "half_hourly": [latest]}
        assert missed_ticks == [START + 6 * 1800]  # the interval's latest tick, 15:00:30
    else:
        assert after_jump == {"hourly": [], "half_hourly": []}
        assert missed_ticks == []
    assert _occasions(setup, "hourly")[-1] == "2026-06-01T16:00:00+02:00"
    assert {header(r)["kind"] for r in hourly} == {"cron"}
