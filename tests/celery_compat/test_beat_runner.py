"""Beat entries fired by a real pynenc runner of the compat app (Redis, a fresh database).

The cron entries are reached with the trigger pass's injected clock
(``app.pynenc.trigger.clock``), not by waiting minutes; the interval entry runs on the real
clock. The tasks (``beat_tasks.record``) push what they were called with to a Redis list.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from celery import _state
from kombu import Queue

from pynenc_celery_compat import Celery, crontab
from tests.celery_compat import beat_tasks
from tests.integration.deployments import wait_until
from tests.servers import Server

pytestmark = pytest.mark.integration

WAIT = 60.0
ZONE = "Europe/Madrid"
#: the fake "now" the test starts at: 10:02 on a Friday, in the app's timezone
START = dt.datetime(2024, 5, 17, 10, 2, tzinfo=ZoneInfo(ZONE))


@pytest.fixture(autouse=True)
def keep_current_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_state, "default_app", _state.default_app)
    monkeypatch.setattr(_state._tls, "current_app", _state._tls.current_app, raising=False)
    yield


class Runs:
    """The Redis list the entries' task calls write to."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.key = f"beat-runs-{uuid.uuid4().hex}"
        self.redis = redis.Redis.from_url(url, socket_timeout=WAIT + 30)

    def args(self, label: str) -> tuple[str, str, str]:
        """The positional arguments of an entry calling ``record`` with ``label``."""
        return (self.url, self.key, label)

    def take(self, count: int) -> list[dict[str, Any]]:
        found = []
        for _ in range(count):
            popped = self.redis.blpop([self.key], timeout=WAIT)
            assert popped is not None, f"{len(found)} of {count} runs came: {found}"
            found.append(json.loads(popped[1]))
        return found

    def nothing_more(self, wait: float = 1.5) -> None:
        popped = self.redis.blpop([self.key], timeout=wait)
        assert popped is None, f"one run too many: {json.loads(popped[1])}"


@pytest.fixture
def runs(redis_server: Server) -> Iterator[Runs]:
    found = Runs(redis_server.db_url())
    yield found
    found.redis.close()


def make_app(runs: Runs) -> Any:
    app = Celery(f"beat-{uuid.uuid4().hex[:8]}", broker=runs.url, backend=runs.url)
    app.conf.timezone = ZONE
    app.conf.task_queues = [Queue("celery"), Queue("periodic")]
    return app


def test_a_beat_schedule_entry_and_an_added_one_fire_at_their_occasions(runs: Runs) -> None:
    app = make_app(runs)
    app.conf.beat_schedule = {
        "every-five-minutes": {
            "task": beat_tasks.record.name,
            "schedule": crontab(minute="*/5"),
            "args": runs.args("five"),
            "kwargs": {"extra": 7},
            "options": {"queue": "periodic", "expires": 600, "headers": {"origin": "beat"}},
        },
    }

    @app.on_after_configure.connect(weak=False)
    def add_periodic(sender: Any, **kwargs: Any) -> None:
        sender.add_periodic_task(
            crontab(minute=0, hour="*/2"), beat_tasks.record.s(*runs.args("two-hourly"))
        )

    now = [START.timestamp()]
    pynenc = app.pynenc
    pynenc.trigger.clock = lambda: now[0]
    with pynenc.running_in_background(stop_timeout=WAIT):
        wait_until(lambda: len(pynenc.trigger.definitions()) == 2, WAIT, "the entries' triggers")
        # the first pass takes "now" as where the entries start; then the clock moves on
        wait_until(lambda: _passed(pynenc), WAIT, "the first trigger pass")
        now[0] = (START + dt.timedelta(minutes=3, seconds=1)).timestamp()  # 10:05:01
        (first,) = runs.take(1)
        now[0] = (START + dt.timedelta(minutes=8, seconds=2)).timestamp()  # 10:10:02
        (second,) = runs.take(1)
        runs.nothing_more()
        now[0] = (START + dt.timedelta(hours=1, minutes=58, seconds=30)).timestamp()  # 12:00:30
        both = runs.take(2)
        runs.nothing_more()
    assert first["label"] == second["label"] == "five"
    assert first["id"] != second["id"] and first["id"].startswith("trg-")
    assert first["extra"] == 7
    assert first["args"] == [runs.url, runs.key, "five", 7]  # positional, as the call binds
    assert first["queue"] == "periodic"
    headers = first["headers"]
    assert headers["celery_beat_task"] is True and headers["origin"] == "beat"
    assert headers["pynenc_trigger"]["occasion"] == START.timestamp() + 180
    assert sorted(run["label"] for run in both) == ["five", "two-hourly"]
    added = next(run for run in both if run["label"] == "two-hourly")
    assert added["queue"] == "celery"  # no options: the task's queue


def _passed(pynenc: Any) -> bool:
    """Whether a trigger pass has seen every trigger (each has a stored state)."""
    ids = [d.trigger_id for d in pynenc.trigger.definitions()]
    return None not in pynenc.state_backend.get_values("trigger-state", ids)


def test_an_interval_entry_fires_every_interval_on_the_real_clock(runs: Runs) -> None:
    app = make_app(runs)
    app.conf.beat_schedule = {
        "half-second": {
            "task": beat_tasks.record.name,
            "schedule": dt.timedelta(seconds=0.5),
            "args": runs.args("half"),
        }
    }
    with app.pynenc.running_in_background(stop_timeout=WAIT):
        found = runs.take(3)
    assert [run["label"] for run in found] == ["half"] * 3
    assert len({run["id"] for run in found}) == 3
    assert found[0]["at"] < found[1]["at"] < found[2]["at"]


def test_a_bound_task_gets_its_arguments_after_self(runs: Runs) -> None:
    app = make_app(runs)
    app.add_periodic_task(0.3, beat_tasks.bound.s(*runs.args("bound")), name="bound")
    with app.pynenc.running_in_background(stop_timeout=WAIT):
        (found,) = runs.take(1)
    assert found["label"] == "bound" and found["task"] == beat_tasks.bound.name
