"""Tasks for the compat layer's first tests: one shared task, one bound task on an app."""

from typing import Any

from pynenc_celery_compat import Celery, shared_task

app = Celery("basic", broker="memory://", backend="cache+memory://")


@shared_task
def add(x: int, y: int) -> int:
    return x + y


@app.task(bind=True, max_retries=2, default_retry_delay=0)
def flaky(self: Any, failures: int) -> tuple[str, int, list[Any]]:
    if self.request.retries < failures:
        raise self.retry(exc=KeyError(failures))
    return (self.request.id, self.request.retries, self.request.args)
