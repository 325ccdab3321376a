"""Beat entries pynenc cannot run: each fails clearly, naming the entry and what to do; the
options and settings that map, warn or are refused."""

from __future__ import annotations

import datetime as dt
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from celery import _state
from celery import schedules as celery_schedules
from celery.beat import BeatLazyFunc
from click.testing import CliRunner

from pynenc_celery_compat import Celery, beat_install, config, crontab, solar, trace
from pynenc_celery_compat.beat import BeatScheduleError, call_options
from pynenc_celery_compat.cli import cli
from pynenc_celery_compat.worker.controller import Worker
from tests.celery_compat import beat_tasks

TICK = beat_tasks.tick.name
RECORD = beat_tasks.record.name


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The current Celery app and the worker's host name given back (a worker set up here
    sets both), and warnings said again in each test."""
    monkeypatch.setattr(trace, "HOSTNAME", trace.HOSTNAME)
    monkeypatch.setattr(_state, "default_app", _state.default_app)
    monkeypatch.setattr(_state._tls, "current_app", _state._tls.current_app, raising=False)
    monkeypatch.setattr(config, "_warned", set())
    yield


def app_with(**entries: Any) -> Any:
    app = Celery(
        f"beat-err-{uuid.uuid4().hex[:8]}",
        broker="memory://",
        backend="cache+memory://",
        set_as_current=False,
    )
    app.conf.beat_schedule = entries
    return app


def install_error(**entries: Any) -> str:
    app = app_with(**entries)
    with pytest.raises(BeatScheduleError) as raised:
        beat_install.install(app, app.pynenc)
    return str(raised.value)


def installed(**entries: Any) -> Any:
    app = app_with(**entries)
    beat_install.install(app, app.pynenc)
    return app


# -- schedules ---------------------------------------------------------------------------


def celerys_own_solar() -> Any:
    """Celery's ``solar`` as a project's schedule holds it (made without ``ephem``, which
    its constructor imports)."""
    found = celery_schedules.solar.__new__(celery_schedules.solar)
    found.event, found.lat, found.lon = "sunrise", 40.4, -3.7
    return found


@pytest.mark.parametrize("schedule", [solar("sunrise", 40.4, -3.7), celerys_own_solar()])
def test_solar_is_not_supported_naming_the_entry_and_what_to_use(schedule: Any) -> None:
    message = install_error(dawn={"task": TICK, "schedule": schedule})
    assert "beat entry 'dawn'" in message
    assert "solar schedules" in message and "not supported" in message
    assert "crontab(hour=7, minute=30)" in message


def test_our_solar_needs_no_ephem_and_refuses_to_compute() -> None:
    schedule = solar("sunset", 52.5, 13.4)
    with pytest.raises(NotImplementedError, match="not supported by pynenc"):
        schedule.is_due(dt.datetime.now(dt.UTC))
    with pytest.raises(ValueError, match="unknown event"):
        solar("teatime", 0, 0)
    with pytest.raises(ValueError, match="latitude"):
        solar("sunset", 91, 0)


class EveryOtherMonday(celery_schedules.BaseSchedule):  # type: ignore[misc]
    def is_due(self, last_run_at: Any) -> Any:
        return celery_schedules.schedstate(False, 60)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (EveryOtherMonday(), "EveryOtherMonday is a schedule class of its own"),
        ("*/5 * * * *", "is not a schedule; give a crontab"),
        (0, "an interval of 0 s would never wait"),
        (dt.timedelta(seconds=-5), "an interval of -5 s"),
        (True, "is not a schedule"),
    ],
)
def test_schedules_pynenc_cannot_evaluate(schedule: Any, expected: str) -> None:
    message = install_error(odd={"task": TICK, "schedule": schedule})
    assert message.startswith("beat entry 'odd'") and expected in message


def test_a_bad_crontab_fails_where_celery_fails() -> None:
    with pytest.raises(ValueError):
        crontab(minute="61")
    with pytest.raises(ValueError, match="5 fields"):
        crontab.from_string("0 0 * *")
    with pytest.raises(ValueError):
        crontab(day_of_month=31, month_of_year=2)  # Celery: never happens


def test_relative_is_applied_for_one_unit_and_warned_about_otherwise() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = installed(
            hourly={"task": TICK, "schedule": 3600, "relative": True},
            odd={"task": TICK, "schedule": 5400, "relative": True, "args": ("odd",)},
            short={"task": TICK, "schedule": 5, "relative": True, "args": ("short",)},
        )
    entries = {e.name: e for e in beat_install.installed(app.pynenc)}
    assert entries["hourly"].when == "cron '0 * * * *' (relative every 3600 s)"
    assert entries["odd"].when == "every 5400 s"
    assert entries["short"].when == "every 5 s"
    texts = [str(w.message) for w in caught]
    assert any("beat entry 'odd': relative=True is not applied" in t for t in texts), texts
    assert not any("'short'" in t or "'hourly'" in t for t in texts)


# -- entries and tasks -------------------------------------------------------------------


def test_an_unknown_task_is_named_with_how_to_fix_it() -> None:
    message = install_error(nightly={"task": "proj.tasks.nope", "schedule": 60})
    assert "beat entry 'nightly': no task named 'proj.tasks.nope'" in message
    assert "include" in message


def test_every_bad_entry_is_listed_at_once() -> None:
    message = install_error(
        a={"task": "proj.tasks.nope", "schedule": 60},
        b={"task": TICK, "schedule": "daily"},
        c={"task": TICK, "schedule": 60},
    )
    assert message.startswith("2 beat_schedule entries cannot run on pynenc:")
    assert "'a'" in message and "'b'" in message and "'c'" not in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"task": TICK}, "has no 'schedule'"),
        ({"schedule": 60}, "'task' must be the task's name"),
        ({"task": TICK, "schedule": 60, "every": 3}, "unknown key(s) every"),
        ({"task": TICK, "schedule": 60, "args": "abc"}, "args must be a list or tuple"),
        ({"task": TICK, "schedule": 60, "kwargs": [1]}, "kwargs must be a dict"),
        ({"task": TICK, "schedule": 60, "args": (1, 2)}, "do not fit task"),
        ({"task": TICK, "schedule": 60, "kwargs": {"nope": 1}}, "do not fit task"),
        (
            {"task": TICK, "schedule": 60, "args": (BeatLazyFunc(str),)},
            "BeatLazyFunc arguments",
        ),
        (
            {"task": TICK, "schedule": 60, "args": (dt.datetime(2024, 1, 1),)},
            "args and kwargs must be JSON values",
        ),
    ],
)
def test_bad_entries(entry: dict[str, Any], expected: str) -> None:
    message = install_error(job=entry)
    assert message.startswith("beat entry 'job'") and expected in message, message


def test_a_var_positional_task_cannot_take_positional_values() -> None:
    message = install_error(spread={"task": beat_tasks.spread.name, "schedule": 60, "args": (1, 2)})
    assert "takes *values" in message and "arguments by name" in message
    app = installed(spread={"task": beat_tasks.spread.name, "schedule": 60, "kwargs": {"k": 1}})
    (entry,) = beat_install.installed(app.pynenc)
    assert entry.builder.arguments == {"k": 1}  # **kwargs spread out: bound by name again


def test_an_entry_is_a_dict() -> None:
    assert "must be a dict" in install_error(job=[TICK, 60])


def test_a_task_left_on_celery_is_left_out_with_a_warning() -> None:
    app = app_with(
        switched={"task": TICK, "schedule": 60},
        kept={"task": RECORD, "schedule": 60, "args": ("u", "k", "l")},
    )
    app.conf.pynenc_celery_tasks = [TICK]
    with pytest.warns(
        UserWarning, match="beat entry 'switched' is left out: task .* runs on Celery"
    ):
        entries = beat_install.install(app, app.pynenc)
    assert [e.name for e in entries if e.skipped] == ["switched"]
    assert [d.task_key for d in app.pynenc.trigger.definitions()] == [RECORD]


def fired_records(app: Any, *, after: float = 60.0) -> list[Any]:
    """The invocations a trigger pass registers ``after`` seconds after a first one (which
    starts the entries' intervals)."""
    start = 1_900_000_000.0
    app.pynenc.trigger.clock = lambda: start
    app.pynenc.trigger.run_pass()
    app.pynenc.trigger.clock = lambda: start + after
    app.pynenc.trigger.run_pass()
    backend = app.pynenc.state_backend
    return [r for r in backend.get_many(backend.find()) if r is not None]


def test_entries_with_the_same_task_times_and_arguments_each_run() -> None:
    """Celery sends each entry: so does pynenc (a trigger per entry, named after it)."""
    same = {"task": TICK, "schedule": 60, "args": ("x",)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: nothing is merged
        app = installed(a=same, b=dict(same), c={**same, "options": {"queue": "other"}})
    ids = beat_install.trigger_ids(app.pynenc)
    assert len(set(ids.values())) == 3
    names = sorted(d.name or "" for d in app.pynenc.trigger.definitions())
    assert names == ["a", "b", "c"]
    records = fired_records(app)
    by_entry = {r.headers["pynenc_trigger"]["name"]: r for r in records}
    assert sorted(by_entry) == ["a", "b", "c"]
    assert by_entry["c"].queue == "other"
    assert by_entry["a"].queue == by_entry["b"].queue != "other"


def test_entries_removed_from_the_schedule_lose_their_triggers() -> None:
    app = installed(
        a={"task": TICK, "schedule": 60},
        b={"task": RECORD, "schedule": 30, "args": ("u", "k", "l")},
    )
    assert len(app.pynenc.trigger.definitions()) == 2
    app.conf.beat_schedule = {"a": {"task": TICK, "schedule": 60}}
    beat_install.install(app, app.pynenc)
    assert [d.task_key for d in app.pynenc.trigger.definitions()] == [TICK]


def test_a_worker_with_a_bad_entry_does_not_start() -> None:
    app = app_with(dawn={"task": TICK, "schedule": solar("dawn_civil", 40, -3)})
    with pytest.raises(BeatScheduleError, match="beat entry 'dawn'"):
        Worker(app, pool="threads").setup()


def test_no_schedule_installs_nothing() -> None:
    app = installed()
    assert beat_install.installed(app.pynenc) == ()
    assert app.pynenc.trigger.definitions() == []


# -- options -----------------------------------------------------------------------------


def test_call_options_that_map() -> None:
    mapped = call_options(
        "e",
        {
            "queue": "reports",
            "priority": 200,
            "expires": dt.timedelta(minutes=5),
            "countdown": 3,
            "headers": {"h": 1},
        },
    )
    assert mapped == {
        "queue": "reports",
        "priority": 9,
        "expires": 300.0,
        "delay": 3.0,
        "headers": {"h": 1},
    }
    assert call_options("e", {"queue": {"name": "q"}}) == {"queue": "q"}


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("eta", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), "a fixed start time cannot repeat"),
        ("task_id", "fixed", "each run needs an id of its own"),
        ("link", "x", "callbacks of periodic calls"),
        ("expires", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), "expires= is a fixed datetime"),
        ("expires", 0, "would never run"),
        ("priority", "high", "priority= must be an integer"),
        ("countdown", -1, "countdown= must be a number of seconds"),
        ("retry_policy_x", 1, "not an option pynenc can give a periodic call"),
    ],
)
def test_call_options_refused(option: str, value: Any, expected: str) -> None:
    with pytest.raises(BeatScheduleError, match="beat entry 'e'") as raised:
        call_options("e", {option: value})
    assert expected in str(raised.value)


def test_broker_options_are_accepted_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert call_options("e", {"routing_key": "rk", "exchange": "ex"}) == {}
    assert [str(w.message).split(" (")[0] for w in caught] == [
        "beat entry 'e': option routing_key= has no effect on pynenc",
        "beat entry 'e': option exchange= has no effect on pynenc",
    ]


def test_task_routes_give_the_entrys_queue() -> None:
    app = app_with(job={"task": TICK, "schedule": 60})
    app.conf.task_routes = {TICK: {"queue": "routed"}}
    (entry,) = beat_install.install(app, app.pynenc)
    assert entry.call_options == {"queue": "routed"}


def test_a_firing_gets_its_entrys_options_and_celerys_beat_header() -> None:
    options = {
        "queue": "q",
        "priority": 3,
        "countdown": 2,
        "expires": 30,
        "headers": {"origin": "beat"},
    }
    app = installed(job={"task": TICK, "schedule": 60, "options": options})
    (definition,) = app.pynenc.trigger.definitions()
    assert definition.name == "job"
    assert definition.options == {
        "queue": "q",
        "priority": 3,
        "delay": 2.0,
        "expires": 30.0,
        "headers": {"origin": "beat", "celery_beat_task": True},
    }
    (record,) = fired_records(app)
    assert record.queue == "q" and record.priority == 3
    assert record.headers["celery_beat_task"] is True and record.headers["origin"] == "beat"
    assert record.headers["pynenc_trigger"]["trigger"] == definition.trigger_id
    assert record.due is not None and record.expires is not None
    assert record.expires - record.due == pytest.approx(28)  # both from the firing


def test_options_that_cannot_go_together_name_the_entry() -> None:
    message = install_error(
        job={"task": TICK, "schedule": 60, "options": {"countdown": 10, "expires": 5}}
    )
    assert "beat entry 'job'" in message
    assert "countdown=10" in message and "could never start" in message


# -- settings and the command -------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "UTC"),
        ({"timezone": "America/New_York"}, "America/New_York"),
        ({"timezone": "Asia/Kolkata", "enable_utc": True}, "Asia/Kolkata"),
    ],
)
def test_celerys_timezone_is_the_zone_of_the_crontabs(
    settings: dict[str, Any], expected: str
) -> None:
    app = app_with()
    app.conf.update(settings)
    assert app.pynenc.conf.timezone == expected


def test_beat_cron_starting_deadline_skips_older_missed_runs() -> None:
    app = app_with()
    app.conf.beat_cron_starting_deadline = 300
    assert app.pynenc.conf.trigger.missed == "skip"
    assert app.pynenc.conf.trigger.missed_after == 300


def test_beat_settings_with_no_meaning_warn() -> None:
    app = app_with()
    app.conf.beat_scheduler = "django_celery_beat.schedulers:DatabaseScheduler"
    with pytest.warns(config.CelerySettingWarning, match="beat_scheduler="):
        _ = app.pynenc


def test_the_beat_command_fails_with_the_bad_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_with(dawn={"task": TICK, "schedule": solar("dawn_civil", 40, -3)})
    monkeypatch.setattr("celery.app.utils.find_app", lambda ref, **kw: app)
    result = CliRunner().invoke(cli, ["-A", "proj", "beat"])
    assert result.exit_code == 1, result.output
    assert "beat entry 'dawn'" in result.output and "not supported" in result.output


def test_on_after_configure_waits_for_the_task_declaration_that_configured_the_app() -> None:
    """Celery's documented idiom: the handler adds a periodic task of a task defined below
    it. Declaring that task binds it to the app, which reads the settings: the handler
    runs at the next use of the settings, when the task exists."""
    app = Celery(f"cfg-{uuid.uuid4().hex[:8]}", broker="memory://", set_as_current=False)
    calls: list[str] = []

    @app.on_after_configure.connect(weak=False)
    def add_periodic(sender: Any, **kwargs: Any) -> None:
        calls.append("configured")
        sender.add_periodic_task(30.0, later.s(), name="later")

    @app.task
    def later() -> None:
        return None

    assert app.configured and calls == []
    assert "later" in app.conf.beat_schedule
    _ = app.conf.timezone
    assert calls == ["configured"]


def test_the_worker_command_refuses_to_start_with_a_bad_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = app_with(nightly={"task": "proj.tasks.gone", "schedule": crontab(hour=3, minute=0)})
    monkeypatch.setattr("celery.app.utils.find_app", lambda ref, **kw: app)
    result = CliRunner().invoke(cli, ["-A", "proj", "worker", "-P", "threads"])
    assert result.exit_code == 2, result.output
    assert "beat entry 'nightly': no task named 'proj.tasks.gone'" in result.output


# -- who runs the schedule ---------------------------------------------------------------


def test_a_runner_started_in_process_installs_the_schedule() -> None:
    app = app_with(job={"task": TICK, "schedule": 3600})
    with app.pynenc.running_in_background(stop_timeout=30):
        assert [d.task_key for d in app.pynenc.trigger.definitions()] == [TICK]


def test_a_test_worker_runs_no_schedule_as_celerys_runs_no_beat() -> None:
    from pynenc_celery_compat.contrib.testing.worker import start_worker

    app = app_with(job={"task": TICK, "schedule": 3600})
    with start_worker(app, pool="threads", perform_ping_check=False):
        assert app.pynenc.trigger.definitions() == []


def test_an_eager_apps_runner_runs_no_schedule() -> None:
    app = app_with(job={"task": TICK, "schedule": 3600})
    app.conf.update(task_always_eager=True, pynenc_eager_runner=True)
    app.set_current()  # the shared task calls through it
    from pynenc_celery_compat.eager import stop_eager_runner

    try:
        assert beat_tasks.tick.delay("x").get(timeout=30) == "x"
        assert app.pynenc.trigger.definitions() == []
    finally:
        stop_eager_runner(app)
