"""A Celery project for ``pynenc-celery worker`` (``-A tests.celery_compat.worker_cli_app``):
its broker and backend come from ``WORKER_TEST_URL``; worker signals are printed."""

from __future__ import annotations

import os
from typing import Any

from celery import signals

from pynenc_celery_compat import Celery

URL = os.environ.get("WORKER_TEST_URL", "memory://")
app = Celery("cliapp", broker=URL, backend=URL, include=["tests.celery_compat.worker_tasks"])


def _printer(name: str) -> Any:
    def handler(sender: Any = None, **kwargs: Any) -> None:
        print(f"signal {name} {type(sender).__name__} pid={os.getpid()}", flush=True)

    return handler


for _name in (
    "worker_init",
    "worker_process_init",
    "worker_ready",
    "worker_shutdown",
    "worker_process_shutdown",
):
    getattr(signals, _name).connect(_printer(_name), weak=False)
