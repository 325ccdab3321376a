"""``start_worker``: a worker in a background thread of this process, for tests.

Celery's ``celery.contrib.testing.worker.start_worker`` with the same signature, for an app
whose tasks are compat tasks (this package's ``Celery``, or a real ``celery.Celery`` app
holding compat tasks). The worker is a pynenc runner (:class:`~pynenc_celery_compat.worker.
Worker`): ``pool="solo"`` one thread, ``"threads"`` ``concurrency`` threads, ``"prefork"``
``concurrency`` worker processes (which need a broker and result backend other processes
reach: Redis, RabbitMQ with a Redis backend, SQLite).

Signals as Celery's test worker sends them: ``test_worker_starting``/``test_worker_started``/
``test_worker_stopped`` (Celery's objects), ``worker_init``, ``worker_process_init`` (solo;
prefork: in each worker process), ``task_revoked``; not ``worker_ready``/``worker_shutdown``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
from collections.abc import Iterator
from typing import Any

from celery.contrib.testing.worker import (
    test_worker_started,
    test_worker_starting,
    test_worker_stopped,
)
from celery.result import _set_task_join_will_block, allow_join_result
from celery.utils.nodenames import anon_nodename

from pynenc.runner.background import BackgroundRunner
from pynenc_celery_compat import trace
from pynenc_celery_compat.apps import find_reference
from pynenc_celery_compat.worker import Worker

logger = logging.getLogger("pynenc_celery_compat.worker")

#: Celery's environment variable for the test worker's log level
WORKER_LOGLEVEL = os.environ.get("WORKER_LOGLEVEL")

#: Worker keyword arguments start_worker passes on (the others are Celery's own, accepted)
_PASSED = ("queues", "exclude_queues", "time_limit", "soft_time_limit", "include")
#: Celery worker arguments that mean nothing here, accepted without a word
_SILENT = ("without_heartbeat", "without_mingle", "without_gossip", "ready_callback", "logfile")
_warned: set[str] = set()


@contextlib.contextmanager
def start_worker(
    app: Any,
    concurrency: int = 1,
    pool: str = "solo",
    loglevel: str | int | None = WORKER_LOGLEVEL,
    logfile: str | None = None,
    perform_ping_check: bool = True,
    ping_task_timeout: float = 10.0,
    shutdown_timeout: float = 10.0,
    **kwargs: Any,
) -> Iterator[Worker]:
    """Run a worker for ``app`` while the block runs; yields the :class:`Worker`.

    :param loglevel: applied to pynenc's log lines when given (default: the
        ``WORKER_LOGLEVEL`` environment variable, else logging is left alone).
    :param perform_ping_check: send a ping task and wait for ``"pong"`` (at most
        ``ping_task_timeout`` seconds) before entering the block.
    :param shutdown_timeout: seconds running tasks get to finish on exit; then the worker
        stops at once and ``RuntimeError`` is raised, as Celery's does.
    :param kwargs: ``queues``, ``exclude_queues``, ``hostname``, ``time_limit``,
        ``soft_time_limit``, ``include``; Celery's other worker arguments are accepted (a
        warning, once, for those that change nothing here).
    """
    test_worker_starting.send(sender=app)
    worker = None
    try:
        with _worker_thread(
            app, concurrency, pool, loglevel, perform_ping_check, shutdown_timeout, kwargs
        ) as worker:
            if perform_ping_check:
                from pynenc_celery_compat.contrib.testing.tasks import ping

                with allow_join_result():
                    answer = ping.delay().get(timeout=ping_task_timeout)
                assert answer == "pong", f"the worker answered the ping with {answer!r}"
            yield worker
    finally:
        test_worker_stopped.send(sender=app, worker=worker)


@contextlib.contextmanager
def _worker_thread(
    app: Any,
    concurrency: int,
    pool: str,
    loglevel: str | int | None,
    perform_ping_check: bool,
    shutdown_timeout: float,
    kwargs: dict[str, Any],
) -> Iterator[Worker]:
    options = {name: kwargs.pop(name) for name in _PASSED if name in kwargs}
    hostname = kwargs.pop("hostname", None) or anon_nodename()
    _warn_ignored(kwargs)
    include = list(options.pop("include", ()))
    if perform_ping_check:
        import pynenc_celery_compat.contrib.testing.tasks  # noqa: F401  (registers ping)

        include.append("pynenc_celery_compat.contrib.testing.tasks")
    previous_hostname = trace.HOSTNAME
    worker = Worker(
        app,
        pool=pool,
        concurrency=concurrency,
        hostname=hostname,
        loglevel=loglevel,
        include=include,
        app_ref=_reference_of(app) if pool in ("prefork", "processes") else None,
        **options,
    )
    worker.test_worker = True
    runner = worker.create_runner()
    worker.send_init()
    background = BackgroundRunner(runner, start_timeout=60.0, stop_timeout=shutdown_timeout)
    background.start()
    _set_task_join_will_block(False)  # the test (this process) may wait for results
    test_worker_started.send(sender=app, worker=worker, consumer=None)
    try:
        yield worker
    finally:
        try:
            _stop(background, shutdown_timeout)
        finally:
            trace.HOSTNAME = previous_hostname


def _stop(background: BackgroundRunner, shutdown_timeout: float) -> None:
    """Stop gracefully within ``shutdown_timeout``; past it, stop at once and say so."""
    from pynenc.exceptions import RunnerError

    try:
        background.stop()
    except RunnerError as exc:
        thread = background.thread
        if thread is not None and thread.is_alive():
            background.runner.stop_runner_loop(immediate=True)
            thread.join(30.0)
            raise RuntimeError(
                f"The worker did not stop within {shutdown_timeout} s (shutdown_timeout): a "
                "task was still running. Raise shutdown_timeout if your tasks take longer."
            ) from exc
        raise


def _reference_of(app: Any) -> str | None:
    """``None`` when ``app`` pickles (worker processes get it so, with the settings it has
    now), else ``module:attribute`` of a module holding it (they import it from there).

    :raises TypeError: neither.
    """
    try:
        pickle.dumps(app)
    except Exception as exc:
        problem: Exception = exc
    else:
        return None
    found = find_reference(app)
    if found is not None:
        return found
    raise TypeError(
        f"a prefork test worker sends its app to worker processes, but {app!r} cannot be "
        f"pickled ({problem!r}) nor imported from a module; use pool='threads', or define "
        "the app at module level"
    )


def _warn_ignored(kwargs: dict[str, Any]) -> None:
    for name in kwargs:
        if name in _SILENT or name in _warned:
            continue
        _warned.add(name)
        logger.warning("start_worker(%s=…) does not apply to a pynenc worker; ignored", name)


__all__ = ["start_worker", "test_worker_started", "test_worker_starting", "test_worker_stopped"]
