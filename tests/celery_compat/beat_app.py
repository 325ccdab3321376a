"""A Celery project with periodic tasks (``-A tests.celery_compat.beat_app``), written as
Celery's documentation shows it: ``beat_schedule`` in the settings, and a handler of
``on_after_configure`` adding a periodic task defined below it.

Its broker and backend come from ``BEAT_TEST_URL``; the tasks push their runs to the Redis
list ``beat-runs`` there. A worker started with ``BEAT_TEST_CLOCK`` set takes "now" for its
trigger pass from that Redis key (seconds since the epoch), so the test moves time on.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis
from celery import signals

from pynenc_celery_compat import Celery, crontab

URL = os.environ.get("BEAT_TEST_URL", "memory://")
RUNS = "beat-runs"

app = Celery("beatapp", broker=URL, backend=URL)
app.conf.timezone = "Europe/Madrid"
app.conf.beat_schedule = {
    "every-five-minutes": {
        "task": "tests.celery_compat.beat_app.report",
        "schedule": crontab(minute="*/5"),
        "args": ("five",),
    },
}


@app.on_after_configure.connect
def setup_periodic_tasks(sender: Any, **kwargs: Any) -> None:
    sender.add_periodic_task(crontab(minute="*/10"), report.s("ten"), name="every ten")


@app.task(bind=True)
def report(self: Any, label: str) -> str:
    client = redis.Redis.from_url(URL)
    try:
        entry = {"label": label, "id": self.request.id, "pid": os.getpid()}
        client.rpush(RUNS, json.dumps(entry))
    finally:
        client.close()
    return label


def redis_clock() -> float:
    """The trigger pass's "now": the test's, from Redis."""
    client = redis.Redis.from_url(URL)
    try:
        raw = client.get(os.environ["BEAT_TEST_CLOCK"])
    finally:
        client.close()
    return float(raw) if raw else time.time()


@signals.worker_init.connect
@signals.worker_process_init.connect  # prefork worker processes run trigger passes too
def _use_the_test_clock(sender: Any = None, **kwargs: Any) -> None:
    if os.environ.get("BEAT_TEST_CLOCK"):
        app.pynenc.trigger.clock = redis_clock
