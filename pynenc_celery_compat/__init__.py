"""pynenc_celery_compat: Celery's task API on pynenc, one import at a time.

Change ``from celery import shared_task`` to ``from pynenc_celery_compat import shared_task``
in a module and its tasks run on pynenc runners; callers keep ``.delay()``,
``.apply_async()``, ``AsyncResult`` and the bound ``self``. See ``docs/celery.md``.
"""

from celery import current_app, current_task

from pynenc_celery_compat import exceptions, signals, states
from pynenc_celery_compat.app import Celery
from pynenc_celery_compat.canvas import (
    Signature,
    chain,
    chord,
    chunks,
    group,
    maybe_signature,
    signature,
    subtask,
    xmap,
    xstarmap,
)
from pynenc_celery_compat.result import AsyncResult, GroupResult
from pynenc_celery_compat.schedules import crontab, schedule, solar
from pynenc_celery_compat.task import Task, shared_task
from pynenc_celery_compat.wrap import wrap_task

# the built-in tasks behind task.map/starmap/chunks (celery.map, celery.starmap)
from pynenc_celery_compat import maps as _maps  # noqa: F401  # isort: skip

__all__ = [
    "AsyncResult",
    "Celery",
    "GroupResult",
    "Signature",
    "Task",
    "chain",
    "chord",
    "chunks",
    "crontab",
    "current_app",
    "current_task",
    "exceptions",
    "group",
    "maybe_signature",
    "schedule",
    "shared_task",
    "signals",
    "signature",
    "solar",
    "states",
    "subtask",
    "wrap_task",
    "xmap",
    "xstarmap",
]
