"""Compat tasks of the QA pass (a migrating project's billing module, in small)."""

import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from pynenc_celery_compat import shared_task


@shared_task(bind=True, max_retries=3, default_retry_delay=0)
def qa_flaky(self: Any, failures: int) -> dict[str, Any]:
    """``self.retry`` ``failures`` times, then its retry count and where it ran."""
    if self.request.retries < failures:
        raise self.retry(exc=ConnectionError(failures), countdown=0)
    return {"retries": self.request.retries, "hostname": self.request.hostname}


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=False, default_retry_delay=0)
def qa_autoretried(failures_file: str) -> str:
    """Raises ``ConnectionError`` while ``failures_file`` holds a positive count."""
    with open(failures_file) as handle:
        left = int(handle.read() or 0)
    if left > 0:
        with open(failures_file, "w") as handle:
            handle.write(str(left - 1))
        raise ConnectionError(left)
    return "done"


@shared_task(track_started=True)
def qa_sleepy(seconds: float) -> float:
    """Sleeps ``seconds`` (not cooperatively: no checkpoint)."""
    time.sleep(seconds)
    return seconds


@shared_task(soft_time_limit=1, time_limit=20)
def qa_soft_limited(seconds: float) -> str:
    """Sleeps ``seconds`` in one call; Celery's prefork pool interrupts it at 1 s."""
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        return "soft limit caught"
    return "slept"
