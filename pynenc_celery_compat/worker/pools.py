"""Celery's ``-P/--pool`` choices as pynenc runners.

================  ==========================================================================
Celery pool       pynenc runner
================  ==========================================================================
``prefork``       ``PersistentProcessRunner``: ``-c`` long-lived worker processes, one task
(``processes``)   at a time each, in its main thread (Celery's prefork children: the soft
                  time limit is a signal); needs a broker and a result backend other
                  processes can reach (Redis, RabbitMQ, SQLite)
``threads``       ``ThreadRunner`` with ``-c`` threads
``solo``          ``ThreadRunner`` with one thread (``-c`` is ignored, as in Celery)
``gevent``,       refused: pynenc has no green-thread runner; use ``threads`` (the closest:
``eventlet``      I/O-bound tasks run concurrently in threads)
================  ==========================================================================
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pynenc.conf.masking import masked_url
from pynenc.exceptions import ConfigError
from pynenc_celery_compat import registry

if TYPE_CHECKING:
    from pynenc import Pynenc
    from pynenc.runner.base import BaseRunner

#: pool names (and Celery's aliases) -> the pool they mean
_ALIASES = {
    "prefork": "prefork",
    "processes": "prefork",
    "threads": "threads",
    "thread": "threads",
    "solo": "solo",
}
_GREEN = ("gevent", "eventlet")

#: which runner each pool is (for banners and docs)
RUNNER_OF_POOL = {
    "prefork": "PersistentProcessRunner",
    "threads": "ThreadRunner",
    "solo": "ThreadRunner",
}


class UnsupportedPoolError(ConfigError):
    """A ``-P/--pool`` this package cannot run (gevent, eventlet, a custom pool class)."""


def pool_name(pool: object) -> str:
    """The pool ``pool`` names (``prefork``, ``threads`` or ``solo``).

    :raises UnsupportedPoolError: gevent, eventlet or anything else, saying what to use.
    """
    name = str(getattr(pool, "__name__", pool) or "prefork").strip().lower()
    found = _ALIASES.get(name)
    if found is not None:
        return found
    if name in _GREEN:
        raise UnsupportedPoolError(
            f"pool {name!r} is not supported by pynenc_celery_compat: pynenc has no "
            "green-thread runner. Use -P threads (I/O-bound tasks run concurrently in "
            "threads) or -P prefork."
        )
    raise UnsupportedPoolError(
        f"pool {name!r} is not one pynenc_celery_compat knows; choose prefork (a process "
        "per slot), threads or solo."
    )


def concurrency_of(pool: str, concurrency: int | None) -> int:
    """Task slots: 1 for ``solo``; else ``concurrency``, by default the CPU count (Celery's
    default)."""
    if pool == "solo":
        return 1
    if concurrency is not None and concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
    return concurrency or os.cpu_count() or 1


def check_pool(pool: str, app: Pynenc) -> None:
    """Refuse ``prefork`` on a broker or state backend that other processes cannot reach.

    :raises UnsupportedPoolError: naming the URLs and the pools that work with them.
    """
    if pool != "prefork":
        return
    if app.state_backend.capabilities.cross_process and not app.broker.in_process:
        return
    raise UnsupportedPoolError(
        "the prefork pool runs tasks in worker processes, but the broker or the result "
        f"backend of this app lives inside this process (broker "
        f"{masked_url(app.conf.broker_url)!r}, "
        f"state backend {masked_url(app.conf.state_backend_url)!r}). Use -P threads or "
        "-P solo, or "
        "configure a broker and result backend other processes reach (redis://, amqp:// "
        "with a redis:// backend, db+sqlite:///path)."
    )


def soft_limit_warning(celery_app: Any, pool: str, default: float | None = None) -> str | None:
    """What to tell about soft time limits on a ``pool`` worker of ``celery_app``.

    ``prefork``: nothing; each worker process runs its task in its main thread, where
    ``SoftTimeLimitExceeded`` is raised by a signal even while the task sleeps or waits, as
    in Celery's prefork children. ``threads`` and ``solo`` run tasks in threads, where it
    is raised only at ``invocation.checkpoint()``: a warning naming the compat tasks with a
    soft limit (their own, ``default`` or ``task_soft_time_limit``); ``None`` when none
    has one."""
    from pynenc.runner import main_thread

    if pool == "prefork" and main_thread.AVAILABLE:
        return None
    app_default = default or celery_app.conf.task_soft_time_limit
    names = sorted(
        name
        for name, task in list(celery_app.tasks.items())
        if registry.made_here(task) and (task.soft_time_limit or app_default)
    )
    if not names:
        return None
    return (
        f"soft_time_limit of {', '.join(names)}: raised only where the task calls "
        f"pynenc's invocation.checkpoint() on the {pool} pool (its tasks run in threads), "
        "not while it sleeps or waits; -P prefork raises it there too, as Celery's prefork "
        "pool does (Celery's threads and solo pools enforce no time limit at all). "
        "time_limit still applies. See docs/celery.md, 'Worker command'"
    )


def create_runner(app: Pynenc, pool: str, concurrency: int, queues: list[str]) -> BaseRunner:
    """The runner for ``pool`` with ``concurrency`` slots consuming ``queues``."""
    if pool == "prefork":
        from pynenc.runner.supervisor import PersistentProcessRunner

        return PersistentProcessRunner(app, processes=concurrency, queues=queues)
    from pynenc.runner.thread import ThreadRunner

    return ThreadRunner(app, threads=concurrency, queues=queues)
