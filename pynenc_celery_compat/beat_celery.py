"""Celery's own beat on a compat app: ``celery -A proj beat`` (or a Celery worker's ``-B``)
left running after the migration.

Celery's beat sends each due entry through the task's ``apply_async`` with the header
``celery_beat_task``. pynenc's runners run the ``beat_schedule`` entries of compat tasks
themselves (:mod:`pynenc_celery_compat.beat_install`), so such a send would run the entry
a second time: it is dropped, with a warning. What Celery's beat still sends: entries of
tasks that run on Celery (switched back by ``pynenc_celery_tasks``: their ``apply_async``
takes Celery's path before this is asked), and calls that are no ``beat_schedule`` entry
(django-celery-beat rows added in its admin).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("pynenc_celery_compat.beat")

#: the header Celery's beat puts on each call it sends
BEAT_HEADER = "celery_beat_task"

_warned: set[str] = set()


def sent_by_celery_beat(options: Mapping[str, Any]) -> bool:
    """Whether ``apply_async`` options are those of a call Celery's beat sends."""
    headers = options.get("headers")
    return isinstance(headers, Mapping) and headers.get(BEAT_HEADER) is True


def entry_run_by_runners(task: Any, app: Any, args: Any, kwargs: Any) -> str | None:
    """The name of the ``beat_schedule`` entry that calls ``task`` with ``args`` and
    ``kwargs`` (as Celery's beat sends them), which the runners run; ``None``: none
    (the call is sent). Warns once per entry and process."""
    schedule = app.conf.beat_schedule
    if not isinstance(schedule, Mapping):
        return None
    wanted_args, wanted_kwargs = list(args or ()), dict(kwargs or {})
    for name, entry in schedule.items():
        if not isinstance(entry, Mapping) or entry.get("task") != task.name:
            continue
        if list(entry.get("args") or ()) != wanted_args:
            continue
        if dict(entry.get("kwargs") or {}) != wanted_kwargs:
            continue
        if name not in _warned:
            _warned.add(name)
            logger.warning(
                "celery beat sent beat_schedule entry %r (%s), which pynenc's runners run "
                "(pynenc-celery worker): not sent again, so it runs once. Celery's beat is "
                "only needed for the entries of tasks switched back to Celery "
                "(pynenc_celery_tasks) and for django-celery-beat rows of its own",
                name,
                task.name,
            )
        return str(name)
    return None


__all__ = ["BEAT_HEADER", "entry_run_by_runners", "sent_by_celery_beat"]
