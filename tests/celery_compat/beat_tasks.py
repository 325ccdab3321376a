"""Tasks of the beat tests (module level: runners in other processes import them).

``record`` writes what it was called with, and the request's headers, to a Redis list:
the test names the Redis and the list in the entry's arguments, so whichever runner fires
the entry reports to the test.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from pynenc_celery_compat import current_task, shared_task


@shared_task
def tick(label: str = "") -> str:
    return label


@shared_task
def record(url: str, key: str, label: str, extra: int = 0, **more: Any) -> str:
    write(url, key, label, extra=extra, more=more)
    return label


@shared_task(bind=True)
def bound(self: Any, url: str, key: str, label: str) -> str:
    write(url, key, label, task=self.name)
    return label


def write(url: str, key: str, label: str, **fields: Any) -> None:
    """Push what the running task was called with to the Redis list ``key``."""
    request = current_task.request
    entry = {
        "label": label,
        **fields,
        "id": request.id,
        "args": list(request.args or ()),
        "kwargs": dict(request.kwargs or {}),
        "headers": request.headers or {},
        "queue": (request.delivery_info or {}).get("routing_key"),
        "at": time.time(),
    }
    client = redis.Redis.from_url(url)
    try:
        client.rpush(key, json.dumps(entry, default=str))
    finally:
        client.close()


@shared_task
def spread(*values: Any, **more: Any) -> int:
    return len(values) + len(more)
