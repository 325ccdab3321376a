"""The task ``start_worker``'s ping check sends (Celery's ``celery.ping``, as a compat task:
it runs on the worker being checked)."""

from __future__ import annotations

from pynenc_celery_compat.task import shared_task

#: its name (Celery's own ``celery.ping`` stays Celery's)
PING = "pynenc_celery_compat.ping"


@shared_task(name=PING)  # type: ignore[untyped-decorator]
def ping() -> str:
    """``"pong"``: the worker received and ran a task."""
    return "pong"


__all__ = ["ping"]
