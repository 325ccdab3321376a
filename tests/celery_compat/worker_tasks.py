"""Tasks for the worker tooling tests (module level: worker processes import them)."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import signals

from pynenc_celery_compat import shared_task

#: set in a process once ``worker_process_init`` reached it (read by ``process_info``)
PROCESS_INIT: list[str] = []


@signals.worker_process_init.connect
def _remember_process_init(sender: Any = None, **kwargs: Any) -> None:
    PROCESS_INIT.append(str(sender))


@signals.task_revoked.connect
def _log_revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """Worker processes report task_revoked through a file (``REVOKED_LOG``), if named."""
    path = os.environ.get("REVOKED_LOG")
    if path:
        with open(path, "a") as log:
            fields = (request.id, sender.name, kwargs["terminated"], kwargs["expired"])
            log.write(" ".join(map(str, (*fields, os.getpid()))) + "\n")


@shared_task
def add(x: int, y: int) -> int:
    return x + y


@shared_task(track_started=True)
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@shared_task(bind=True)
def process_info(self: Any) -> dict[str, Any]:
    """Where it ran: pid, the request's hostname, the worker_process_init senders seen."""
    return {"pid": os.getpid(), "hostname": self.request.hostname, "init": PROCESS_INIT}


@shared_task
def join_inside() -> str:
    """Waits for another task inside a task: Celery's workers refuse (RuntimeError)."""
    try:
        return str(add.delay(1, 2).get(timeout=10))
    except RuntimeError as exc:
        return f"RuntimeError: {exc}"
