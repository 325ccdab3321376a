"""Compat tasks whose publish signals are compared with Celery's."""

from typing import Any

from pynenc_celery_compat import Celery

app = Celery("publish", broker="memory://", backend="cache+memory://", set_as_current=False)


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(ignore_result=True, time_limit=30, soft_time_limit=20)
def limited(x: int) -> int:
    return x


@app.task(bind=True)
def parent(self: Any, x: int) -> str:
    """Calls ``add`` from inside a running task: the child's headers name this parent."""
    return str(add.delay(x, 1).id)


@app.task(bind=True, max_retries=1, default_retry_delay=0)
def retried(self: Any) -> int:
    """Retries once (a retry publishes again, in Celery)."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return int(self.request.retries)
