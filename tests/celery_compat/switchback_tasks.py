"""Compat tasks that a test switches back to Celery and forward to pynenc again."""

from typing import Any

from pynenc_celery_compat import shared_task


@shared_task(bind=True)
def where(self: Any, x: int, y: int) -> dict[str, Any]:
    """The sum, and the worker that computed it."""
    return {"value": x + y, "hostname": self.request.hostname}


@shared_task(bind=True, max_retries=2, default_retry_delay=0)
def flaky(self: Any, failures: int) -> dict[str, Any]:
    """Fails ``failures`` times (each a ``self.retry``), then reports its retries."""
    if self.request.retries < failures:
        raise self.retry(exc=KeyError(failures), countdown=0)
    return {"retries": self.request.retries, "hostname": self.request.hostname}
