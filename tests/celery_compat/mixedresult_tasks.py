"""A module migrated to the compat ``shared_task`` while the project's app stays a real
``celery.Celery`` (the mixed-results tests: ``app.AsyncResult``/``control.revoke``)."""

from pynenc_celery_compat import shared_task


@shared_task
def multiply(x: int, y: int) -> int:
    return x * y


@shared_task
def fails(message: str) -> None:
    raise LookupError(message)
