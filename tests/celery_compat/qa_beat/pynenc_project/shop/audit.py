"""What the shop's periodic tasks did: each run is pushed to a Redis list (the QA tests
read it). ``SHOP_RUNS_KEY`` names the list; nothing is written without it."""

import json
import os
import time

import redis

from pynenc_celery_compat import current_task


def record(name, **details):
    key = os.environ.get("SHOP_RUNS_KEY")
    if not key:
        return
    request = current_task.request
    delivery = request.delivery_info or {}
    entry = {
        "task": name,
        "details": details,
        "id": request.id,
        "args": list(request.args or ()),
        "kwargs": dict(request.kwargs or {}),
        "queue": delivery.get("routing_key"),
        "priority": delivery.get("priority"),
        "expires": str(request.expires) if request.expires else None,
        "beat": bool((request.headers or {}).get("celery_beat_task"))
        or bool(getattr(request, "celery_beat_task", False)),
        "trigger": (request.headers or {}).get("pynenc_trigger"),
        "hostname": request.hostname,
        "pid": os.getpid(),
        "at": time.time(),
    }
    client = redis.Redis.from_url(os.environ.get("SHOP_REDIS_URL", "redis://localhost:6379/0"))
    try:
        client.rpush(key, json.dumps(entry, default=str))
    finally:
        client.close()
