"""Celery's ``time_limit``/``soft_time_limit`` onto pynenc's ``timeout``/``soft_timeout``.

Celery lets a task declare any pair and refuses a soft limit above the hard one only when
it is called (``ValueError`` in ``apply_async``); pynenc refuses, at declaration, a soft
limit that is not shorter than the hard one. A compat task is declared as Celery allows
and checked as Celery checks.
"""

from __future__ import annotations

from typing import Any


def time_limits(task: Any, celery_app: Any = None) -> dict[str, float | None]:
    """pynenc's ``timeout``/``soft_timeout`` for Celery's ``time_limit``/``soft_time_limit``
    (set on the task, else ``celery_app``'s ``task_time_limit``/``task_soft_time_limit``).

    ``0``/``None`` is no limit, as in Celery. pynenc wants the soft limit shorter than the
    hard one: an equal soft limit would never be seen (the hard one alone is kept), and a
    larger one is Celery's ``ValueError`` at ``apply_async`` (the task is still declared).
    """
    hard_limit, soft_limit = task.time_limit, task.soft_time_limit
    if celery_app is not None:  # a worker's --time-limit sets the app's defaults
        conf = celery_app.conf
        hard_limit = conf.task_time_limit if hard_limit is None else hard_limit
        soft_limit = conf.task_soft_time_limit if soft_limit is None else soft_limit
    hard = float(hard_limit) if hard_limit else None
    soft = float(soft_limit) if soft_limit else None
    # both keys, always: they override the app-wide defaults mapped from the same settings
    # (a task's own hard limit must not meet a default soft limit above it)
    limits: dict[str, float | None] = {"timeout": hard, "soft_timeout": None}
    if soft is not None and (hard is None or soft < hard):
        limits["soft_timeout"] = soft
    return limits


def check_time_limits(soft: Any, hard: Any, where: str) -> None:
    """Celery's rule: a soft time limit above the hard one is a ``ValueError``.

    Celery checks the task's attributes in ``apply_async``; this layer checks the limits
    given to one call too (``where`` is ``"task"`` or ``"call"``).
    """
    if soft and hard and soft > hard:
        raise ValueError(
            f"soft_time_limit ({soft}) must be less than or equal to time_limit ({hard}) "
            f"(the {where}'s limits): lower soft_time_limit or raise time_limit"
        )
