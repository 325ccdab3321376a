"""The shop's misconfigurations on migration day: each entry pynenc cannot run fails when
a worker reads the schedule, naming the entry, what is wrong and how to fix it; options
that do nothing warn with the true reason."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from pynenc_celery_compat import Celery, beat_install, config, crontab
from pynenc_celery_compat.beat import BeatScheduleError

DIGEST = "shop.reports.tasks.send_digest"


@pytest.fixture
def shop_settings(shop: ModuleType) -> Iterator[None]:
    """The shop's modules imported (its task names known), warnings said again."""
    shop.app.loader.import_default_modules()
    yield


def app_with(entry: dict[str, Any]) -> Any:
    """An app configured as the shop is, its schedule one entry ``bad``."""
    app = Celery(f"shop-bad-{uuid.uuid4().hex[:8]}", set_as_current=False)
    app.config_from_object("shop.settings", namespace="CELERY")
    app.conf.update(broker_url="memory://", result_backend="cache+memory://")
    app.conf.beat_schedule = {"bad": entry}
    return app


def error_of(entry: dict[str, Any]) -> str:
    app = app_with(entry)
    with pytest.raises(BeatScheduleError) as raised:
        beat_install.install(app, app.pynenc)
    message = str(raised.value)
    assert message.startswith("beat entry 'bad': "), message  # only the bad entry
    return message


def warnings_of(entry: dict[str, Any]) -> list[str]:
    app = app_with(entry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        beat_install.install(app, app.pynenc)
    return [str(w.message) for w in caught if "beat entry 'bad'" in str(w.message)]


@pytest.mark.usefixtures("shop_settings")
@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"task": "shop.reports.tasks.send_digets", "schedule": 60, "args": ("d",)},
            "no task named 'shop.reports.tasks.send_digets'",
        ),
        ({"task": DIGEST, "schedule": 60}, "missing a required argument: 'period'"),
        ({"task": DIGEST, "schedule": 60, "args": "daily"}, "args must be a list or tuple"),
        (
            {"task": DIGEST, "schedule": 60, "args": ("d",), "kwargs": {"recipient": "x"}},
            "got an unexpected keyword argument 'recipient'",
        ),
        ({"task": DIGEST, "schedule": dt.timedelta(0), "args": ("d",)}, "would never wait"),
        ({"task": DIGEST, "schedule": crontab, "args": ("d",)}, "is not a schedule"),
        (
            {"task": DIGEST, "schedule": 60, "args": ("d",), "options": {"eta": dt.datetime.now()}},
            "options eta= a fixed start time cannot repeat",
        ),
        (
            {"task": DIGEST, "schedule": 60, "args": ("d",), "option": {"queue": "reports"}},
            "unknown key(s) option",
        ),
    ],
)
def test_an_entry_pynenc_cannot_run_is_named_with_why(entry: dict[str, Any], expected: str) -> None:
    assert expected in error_of(entry)


@pytest.mark.usefixtures("shop_settings")
def test_a_misspelt_task_name_suggests_the_task_meant() -> None:
    message = error_of({"task": "shop.reports.tasks.send_digets", "schedule": 60, "args": ("d",)})
    assert "did you mean 'shop.reports.tasks.send_digest'?" in message


@pytest.mark.usefixtures("shop_settings")
def test_a_cron_line_given_as_the_schedule_says_how_to_write_it() -> None:
    message = error_of({"task": DIGEST, "schedule": "30 7 * * 1-5", "args": ("d",)})
    assert "crontab.from_string('30 7 * * 1-5')" in message


@pytest.mark.usefixtures("shop_settings")
@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "a datetime as its ISO string"),
        (dt.date(2024, 1, 1), "a date as its ISO string"),
        (decimal.Decimal("9.99"), "a Decimal as a string"),
        ({"EUR", "USD"}, "a set as a list"),
        (uuid.UUID(int=1), "a UUID as a string"),
    ],
)
def test_a_value_json_cannot_hold_is_named_with_what_to_pass(value: Any, hint: str) -> None:
    message = error_of({"task": DIGEST, "schedule": 60, "args": (value,)})
    assert "args and kwargs must be JSON values" in message
    assert f"is not JSON serializable; pass {hint}" in message
    others = {"datetime", "date", "Decimal", "set", "UUID"} - {hint.split()[1]}
    assert not any(f" a {other} as" in message for other in others), message


@pytest.mark.usefixtures("shop_settings")
def test_per_call_time_limits_warn_that_pynencs_limits_are_the_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config, "_warned", set())
    said = warnings_of(
        {
            "task": DIGEST,
            "schedule": 60,
            "args": ("d",),
            "options": {"time_limit": 300, "soft_time_limit": 240, "routing_key": "reports"},
        }
    )
    assert len(said) == 3, said
    limits = [s for s in said if "time_limit=" in s]
    assert all("per task" in s and "Celery broker" not in s for s in limits), limits
    assert any("routing_key=" in s and "Celery broker" in s for s in said), said


@pytest.mark.usefixtures("shop_settings")
def test_celerys_own_schedule_objects_work_as_this_packages() -> None:
    """A settings module not migrated yet (``from celery.schedules import crontab``)."""
    from celery import schedules as celerys

    entries = {
        "digest": {"task": DIGEST, "schedule": celerys.crontab(30, 7, "mon-fri"), "args": ("d",)},
        "rates": {"task": DIGEST, "schedule": celerys.schedule(45), "args": ("r",)},
    }
    app = app_with(entries["digest"])
    app.conf.beat_schedule = entries
    found = {entry.name: entry.when for entry in beat_install.install(app, app.pynenc)}
    assert found == {"digest": "cron '30 7 * * 1-5'", "rates": "every 45 s"}


@pytest.mark.usefixtures("shop_settings")
def test_a_runner_started_in_process_logs_a_bad_entry_and_runs_the_tasks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_with({"task": "shop.reports.tasks.send_digets", "schedule": 60, "args": ("d",)})
    with app.pynenc.running_in_background(stop_timeout=30):
        assert app.pynenc.trigger.definitions() == []
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("beat_schedule is not run: beat entry 'bad'" in s for s in said), said


@pytest.mark.usefixtures("shop_settings")
def test_add_periodic_task_from_on_after_finalize_and_the_documented_cron_line() -> None:
    """docs/celery.md: ``add_periodic_task`` from an ``on_after_finalize`` handler too;
    ``crontab(minute="*/15", hour="9-17", day_of_week="mon-fri")`` → ``*/15 9-17 * * 1-5``."""
    app = Celery(f"shop-fin-{uuid.uuid4().hex[:8]}", set_as_current=False)
    app.config_from_object("shop.settings", namespace="CELERY")
    app.conf.update(broker_url="memory://", result_backend="cache+memory://")
    app.conf.beat_schedule = {}
    assert not app.finalized  # the handler runs when a runner reads the schedule

    @app.on_after_finalize.connect(weak=False)
    def setup(sender: Any, **kwargs: Any) -> None:
        sender.add_periodic_task(
            crontab(minute="*/15", hour="9-17", day_of_week="mon-fri"),
            sender.tasks[DIGEST].s("quarter-hourly"),
            name="office hours",
            queue="reports",
        )

    (entry,) = beat_install.install(app, app.pynenc)
    assert (entry.name, entry.when) == ("office hours", "cron '*/15 9-17 * * 1-5'")
    assert entry.builder.arguments == {"period": "quarter-hourly"}
    assert entry.call_options == {"queue": "reports"}
