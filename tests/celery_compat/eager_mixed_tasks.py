"""A module migrated to the compat ``shared_task`` in a project whose app stays a real
``celery.Celery`` (the mixed-apps eager tests)."""

from __future__ import annotations

from typing import Any

from pynenc_celery_compat import shared_task

#: request fields seen by :func:`where`, per attempt
SEEN: list[dict[str, Any]] = []


@shared_task(bind=True, max_retries=1)
def where(self: Any, value: Any, countdown: float = 30) -> dict[str, Any]:
    SEEN.append(
        {
            "id": self.request.id,
            "args": self.request.args,
            "retries": self.request.retries,
            "is_eager": self.request.is_eager,
            "app": self.app.main,
        }
    )
    if self.request.retries == 0:
        raise self.retry(countdown=countdown)
    return {"value": value, "retries": self.request.retries}


@shared_task
def fails() -> None:
    raise LookupError("mixed")
