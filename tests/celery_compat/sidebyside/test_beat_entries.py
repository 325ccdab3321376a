"""Beat entries side by side: the same ``beat_schedule`` and ``add_periodic_task`` calls on a
Celery 5.7 app (read by Celery's own beat ``Scheduler``) and on a compat app (installed
as triggers): the same entries, tasks and arguments, due at the same times."""

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
from celery.beat import Scheduler

from pynenc_celery_compat import Celery, beat_install
from pynenc_celery_compat import schedules as ours
from tests.celery_compat import beat_tasks

ZONE = "Europe/Madrid"
TICK = beat_tasks.tick.name
RECORD = beat_tasks.record.name


@pytest.fixture(autouse=True)
def keep_current_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_state, "default_app", _state.default_app)
    monkeypatch.setattr(_state._tls, "current_app", _state._tls.current_app, raising=False)
    yield


def schedule(schedules: Any) -> dict[str, Any]:
    """The project's ``beat_schedule``, its crontabs from ``schedules`` (``celery.schedules``
    or ``pynenc_celery_compat.schedules``: the import line a migration changes)."""
    return {
        "weekday-mornings": {
            "task": RECORD,
            "schedule": schedules.crontab(hour=7, minute=30, day_of_week="mon-fri"),
            "args": ("redis://unused", "key", "morning"),
            "kwargs": {"extra": 2},
        },
        "quarter-hours": {
            "task": TICK,
            "schedule": schedules.crontab(minute="*/15"),
            "kwargs": {"label": "q"},
        },
        "first-of-month": {
            "task": TICK,
            "schedule": schedules.crontab.from_string("0 0 1 * *"),
        },
        "every-10s": {"task": TICK, "schedule": 10.0, "args": ("ten",)},
        "every-5m": {"task": TICK, "schedule": dt.timedelta(minutes=5)},
        "every-90s": {"task": TICK, "schedule": schedules.schedule(run_every=90)},
    }


def configure(app: Any, schedules: Any) -> None:
    """A project's setup: settings, and periodic tasks added on ``on_after_configure``."""
    app.conf.timezone = ZONE
    app.conf.beat_schedule = schedule(schedules)

    @app.on_after_configure.connect(weak=False)
    def add_periodic(sender: Any, **kwargs: Any) -> None:
        sender.add_periodic_task(
            schedules.crontab(minute=0, hour="*/6"), beat_tasks.tick.s("six-hourly"), name="6h"
        )
        sender.add_periodic_task(45.0, beat_tasks.record.s("redis://unused", "key", "45s"))


def celery_entries() -> dict[str, Any]:
    app = celery.Celery(f"beat-celery-{uuid.uuid4().hex}", set_as_current=False)
    configure(app, celery_schedules)
    scheduler = Scheduler(app, lazy=True)
    scheduler.merge_inplace(app.conf.beat_schedule)
    return dict(scheduler.schedule)


def compat_app() -> Any:
    app = Celery(
        f"beat-compat-{uuid.uuid4().hex}",
        broker="memory://",
        backend="cache+memory://",
        set_as_current=False,
    )
    configure(app, ours)
    return app


def test_the_same_entries_tasks_and_arguments() -> None:
    theirs = celery_entries()
    app = compat_app()
    mine = {entry.name: entry for entry in beat_install.install(app, app.pynenc)}
    assert set(mine) == set(theirs)
    assert "6h" in mine and len(mine) == 8  # the add_periodic_task entries too
    for name, entry in theirs.items():
        assert mine[name].task == entry.task
        task = app.tasks[entry.task]
        bound = task.pynenc_task.signature.bind(*entry.args, **entry.kwargs)
        assert mine[name].builder.arguments == dict(bound.arguments), name
    assert mine["weekday-mornings"].builder.arguments == {
        "url": "redis://unused",
        "key": "key",
        "label": "morning",
        "extra": 2,
    }


@pytest.mark.parametrize(
    "after",
    [
        dt.timedelta(seconds=10),
        dt.timedelta(seconds=44),
        dt.timedelta(seconds=45),
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=12, seconds=15),
        dt.timedelta(hours=5, minutes=42, seconds=15),
        dt.timedelta(days=3, hours=21, minutes=12, seconds=15),
        dt.timedelta(days=15),
    ],
)
def test_the_same_entries_are_due_at_the_same_times(after: dt.timedelta) -> None:
    last = dt.datetime(2024, 5, 17, 0, 17, 45, tzinfo=ZoneInfo(ZONE))  # a Friday
    now = last + after
    theirs = celery_entries()
    app = compat_app()
    pynenc = app.pynenc
    clock = [last.timestamp()]
    pynenc.trigger.clock = lambda: clock[0]
    beat_install.install(app, pynenc)
    pynenc.trigger.run_pass()  # the runners see the entries: the same start as Celery's
    clock[0] = now.timestamp()
    pynenc.trigger.run_pass()
    status = {s.definition.trigger_id: s for s in pynenc.trigger.status()}
    ids = beat_install.trigger_ids(pynenc)
    for name, entry in theirs.items():
        entry.schedule.nowfun = lambda: now
        due, next_in = entry.schedule.is_due(last)
        found = status[ids[name]]
        assert found.last_error is None
        if not isinstance(entry.schedule, celery_schedules.crontab):
            # an interval: Celery's next run counts from the send, pynenc's from a fixed
            # grid; they agree on whether it is due, and on the next run when it is not
            assert (found.fired >= 1) == due, name
            if due:
                continue
        else:
            assert found.fired == int(due), name
        assert found.next_due == pytest.approx(now.timestamp() + next_in), name
