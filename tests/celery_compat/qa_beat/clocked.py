"""The migrated shop as its workers run it in the beat QA tests
(``pynenc-celery -A tests.celery_compat.qa_beat.clocked worker``, ``pynenc_project`` on
``PYTHONPATH``): the project unchanged, plus "now" for the trigger pass read from the
Redis key ``SHOP_CLOCK`` (seconds since the epoch), so the tests reach cron occasions
without waiting for them.

The clock is set in the worker and in each of its prefork worker processes: they run
runners too, and whichever runner holds the services lease runs the trigger pass."""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from celery import signals
from shop.celery import app

__all__ = ["app"]


def redis_clock() -> float:
    client = redis.Redis.from_url(os.environ["SHOP_REDIS_URL"])
    try:
        raw = client.get(os.environ["SHOP_CLOCK"])
    finally:
        client.close()
    return float(raw) if raw else time.time()


@signals.worker_init.connect
@signals.worker_process_init.connect
def _use_the_test_clock(sender: Any = None, **kwargs: Any) -> None:
    if os.environ.get("SHOP_CLOCK"):
        app.pynenc.trigger.clock = redis_clock
