"""Switching the shop's reports back to Celery by configuration (``pynenc_celery_tasks``)
while its beat_schedule stays as it is, and ``celery beat`` left running on the migrated
project (the deployment that ran it yesterday still does).

docs/celery.md: an entry whose task runs on Celery is left out of pynenc's schedule with a
warning, for ``celery beat`` to run. Celery's beat on a compat app sends every entry
through the task's ``apply_async``: the ones pynenc's runners run must not be sent again.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

import pytest
import redis
from click.testing import CliRunner

from pynenc import Pynenc
from pynenc_celery_compat import beat_celery, beat_install, routing
from pynenc_celery_compat.cli import cli
from tests.celery_compat.qa_beat.beat_driver import drive
from tests.celery_compat.qa_beat.conftest import PYNENC_PROJECT, WAIT, at
from tests.celery_compat.qa_beat.processes import CLOCK, CeleryWorker, Runs, ShopWorker
from tests.integration.deployments import wait_until

pytestmark = pytest.mark.integration

REPORTS = "shop.reports.tasks"
SWITCHED = {"weekday-digest", "quarterly-report", "hourly-stats"}


@pytest.fixture
def switched(shop: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The shop with its reports back on Celery, as every process of it sees it."""
    monkeypatch.setenv(routing.ENV_VAR, REPORTS)
    routing.reload()
    shop.app.loader.import_default_modules()
    return shop


def test_the_entries_of_switched_tasks_are_left_to_celery_beat(switched: ModuleType) -> None:
    app = switched.app
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entries = beat_install.install(app, app.pynenc)
    left_out = {entry.name for entry in entries if entry.skipped}
    assert left_out == SWITCHED
    said = [str(w.message) for w in caught if "is left out" in str(w.message)]
    assert len(said) == 3 and all("run this entry with celery beat" in s for s in said)
    keys = {d.task_key for d in app.pynenc.trigger.definitions()}
    assert len(keys) == 8 and not any(key.startswith(REPORTS) for key in keys)

    result = CliRunner().invoke(cli, ["-A", "shop", "beat"])
    assert result.exit_code == 0, result.output
    assert "weekday-digest: shop.reports.tasks.send_digest cron '30 7 * * 1-5'" in result.output
    assert "-- left out: task shop.reports.tasks.send_digest runs on Celery" in result.output


def test_celery_beat_left_running_sends_only_what_pynenc_does_not_run(
    switched: ModuleType, tmp_path: Path
) -> None:
    """Celery's beat (its own scheduler, on the migrated app, its clock faked) ticks
    07:29:50-07:30:40: the digest goes to a Celery worker; the heartbeat and the rates
    are run by pynenc's trigger, once, and Celery's beat does not send them again."""
    app = switched.app
    url = app.conf.broker_url
    client = redis.Redis.from_url(url, socket_timeout=WAIT + 30)
    runs = Runs(client)
    ids = sorted(set(beat_install.trigger_ids(_installed(app)).values()))
    state = Pynenc({"app_id": "shop", "state_backend_url": url}).state_backend
    env = {routing.ENV_VAR: REPORTS}
    client.set(CLOCK, at(2024, 5, 17, 7, 29, 50))
    workers = [
        ShopWorker(url, "-P", "threads", "-c", "2", tmp=tmp_path / "pynenc", **env),
        CeleryWorker(url, PYNENC_PROJECT, "-P", "solo", "-Q", "reports", tmp=tmp_path, **env),
    ]
    try:
        wait_until(lambda: None not in state.get_values("trigger-state", ids), WAIT, "a pass")
        timeline = [at(2024, 5, 17, 7, 29, 50) + second for second in range(51)]
        sent = drive(app, timeline, send=True)
        client.set(CLOCK, at(2024, 5, 17, 7, 30, 41))
        runs.until(runs.occasion_after("gateway_heartbeat", at(2024, 5, 17, 7, 30, 20)), "tick")
        runs.until(runs.occasion_after("refresh_rates", at(2024, 5, 17, 7, 30, 35)), "rates")
        runs.until(lambda seen: bool(runs.of("send_digest")), "the digest on Celery")
    finally:
        codes = [worker.stop() for worker in workers]
        client.close()
    assert codes == [0, 0], [worker.output() for worker in workers]
    runs.drain()
    by_beat = {s["entry"]: s.get("result") for s in sent}
    assert by_beat == {
        "weekday-digest": "celery.result.AsyncResult",  # a Celery message
        "gateway-heartbeat": "builtins.NoneType",  # pynenc's runners run it: not sent again
        "refresh-rates": "builtins.NoneType",
    }
    (digest,) = runs.of("send_digest")
    assert digest["trigger"] is None and digest["beat"] is True
    assert digest["details"] == {"period": "daily", "recipients": ["ops@example.com"]}
    assert (digest["queue"], digest["priority"]) == ("reports", 7)  # as pynenc's run has them
    for task in ("gateway_heartbeat", "refresh_rates"):
        assert [run["trigger"] is not None for run in runs.of(task)] == [True], runs.of(task)


def test_celery_beat_still_sends_what_is_no_entry_pynenc_runs(
    shop: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a send that is an entry (its task, args and kwargs) is dropped: a
    django-celery-beat row of its own, or other arguments, is an ordinary call."""
    app = shop.app
    app.loader.import_default_modules()
    rates = app.tasks["shop.billing.tasks.refresh_rates"]
    beat = {"headers": {"celery_beat_task": True}}
    monkeypatch.setattr(beat_celery, "_warned", set())
    warned: list[str] = []
    monkeypatch.setattr(beat_celery.logger, "warning", lambda *a: warned.append(a[0] % a[1:]))
    assert rates.apply_async((["EUR", "USD"],), {}, **beat) is None
    assert rates.apply_async([["EUR", "USD"]], None, **beat) is None  # as JSON rows hold it
    assert rates.apply_async((["GBP"],), {}, **beat) is not None  # a row of its own
    assert rates.apply_async((["EUR", "USD"],), {}) is not None  # not from a beat
    assert len(warned) == 1 and "entry 'refresh-rates'" in warned[0]


def _installed(app: object) -> Pynenc:
    pynenc: Pynenc = app.pynenc  # type: ignore[attr-defined]
    beat_install.install(app, pynenc)
    return pynenc
