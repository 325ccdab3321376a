"""QA of triggers: restarts and deploys. With no runner up for days, a daily job runs once
(``trigger.missed = "once"``) or not at all (``"skip"``); interval ticks keep their grid;
a changed cron expression is a new trigger: the old one stops and the new one starts
afresh. Runner processes on SQLite and Redis, the clock moved by the test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pynenc import Pynenc, TriggerBuilder
from pynenc.trigger.definition import define
from pynenc.trigger.evaluation import STATE
from tests.apps import qa_triggers
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.integration.test_qa_triggers_handover import APP, T0, deployment_for, evaluated

MADRID = ZoneInfo("Europe/Madrid")


def _at(*args: int) -> float:
    return dt.datetime(*args, tzinfo=MADRID).timestamp()


def _up_until(
    deployment: Deployment, tmp_path: Path, name: str, done: object, then: float | None = None
) -> None:
    """A runner up until ``done()`` holds (after its first pass, and the clock set to
    ``then`` if given), then stopped."""
    process = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / f"{name}.log", app_ref=APP)
    process.start()
    try:
        wait_until(evaluated, 60, f"{name}: a trigger pass")
        if then is not None:
            qa_triggers.set_clock(then)
        wait_until(done, 60, f"{name}: what it should fire")
    finally:
        assert process.stop() == 0, process.log_tail()


def _occasions(task: str) -> list[float]:
    return [run["trigger"]["occasion"] for run in qa_triggers.runs(task)]


def _start(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **env: str) -> Deployment:
    deployment = deployment_for(kind, tmp_path, request)
    deployment.extra_env.update(env)
    app: Pynenc = deployment.configure(qa_triggers.app)
    app.purge()
    qa_triggers.set_clock(T0)  # Saturday 2025-03-29 12:00:30 CET
    return deployment


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("policy", ["once", "skip"])
def test_days_without_a_runner(
    kind: str, policy: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Down from Saturday noon to Tuesday 10:00: the 03:00 job missed three times (the
    first, Sunday 30 March, in the first hour of summer time) runs once, for Tuesday's
    occasion, or is skipped; the interval ticks of the last ``missed_after`` (60 s) count
    as on time and run, on their grid from the first sighting; the next occasions are on
    time."""
    deployment = _start(kind, tmp_path, request, PYNENC__TRIGGER__MISSED=policy)
    _up_until(deployment, tmp_path, "before", lambda: True)
    down_until = _at(2025, 4, 1, 10, 0, 5)
    qa_triggers.set_clock(down_until)
    expected_ticks = [
        T0 + 10 * k for k in range(1, 1_000_000) if 0 <= down_until - (T0 + 10 * k) <= 60
    ]
    missed = [_at(2025, 4, 1, 3, 0)] if policy == "once" else []
    _up_until(
        deployment,
        tmp_path,
        "after",
        lambda: (
            sorted(_occasions("every_ten")) == expected_ticks and _occasions("nightly") == missed
        ),
    )
    assert len(expected_ticks) == 6  # 09:59:10 ... 10:00:00: a burst after any restart
    qa_triggers.set_clock(_at(2025, 4, 2, 3, 0, 1))  # Wednesday 03:00:01: on time
    _up_until(deployment, tmp_path, "later", lambda: len(_occasions("nightly")) == len(missed) + 1)
    assert _occasions("nightly") == [*missed, _at(2025, 4, 2, 3, 0)]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_changed_cron_expression_is_a_new_trigger(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Deploy 1 runs ``* * * * *``; deploy 2 changes it to ``*/5 * * * *``: the old trigger
    fires no more, the new one counts from its first pass (nothing to catch up)."""
    deployment = _start(kind, tmp_path, request)
    app = qa_triggers.app
    # first seen at 12:00:30; at 12:01:30 the 12:01 occasion
    runs = qa_triggers.runs
    _up_until(deployment, tmp_path, "deploy-1", lambda: len(runs("scheduled")) == 1, T0 + 60)
    [old] = qa_triggers.runs("scheduled")
    assert old["trigger"]["occasion"] == T0 + 30

    deployment.extra_env["QA_CRON"] = "*/5 * * * *"
    [changed] = define(qa_triggers.scheduled, TriggerBuilder().on_cron("*/5 * * * *"))
    qa_triggers.set_clock(T0 + 200)  # 12:03:50: the old expression's 12:02 and 12:03 are gone
    _up_until(
        deployment,
        tmp_path,
        "deploy-2",
        lambda: app.state_backend.get_value(STATE, changed.trigger_id) is not None,
    )
    assert len(qa_triggers.runs("scheduled")) == 1
    qa_triggers.set_clock(T0 + 280)  # 12:05:10: the new expression's 12:05
    _up_until(deployment, tmp_path, "deploy-2b", lambda: len(qa_triggers.runs("scheduled")) == 2)
    new = qa_triggers.runs("scheduled")[1]
    assert new["trigger"]["occasion"] == T0 + 270
    assert new["trigger"]["trigger"] == changed.trigger_id != old["trigger"]["trigger"]
    assert app.state_backend.get_value(STATE, old["trigger"]["trigger"])  # left behind
