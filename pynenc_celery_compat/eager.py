"""Eager mode: when compat calls run Celery's eager path, and the opt-in in-process runner.

Under ``task_always_eager`` a compat task runs exactly as Celery runs an eager task (Celery's
own ``apply_async``/``apply``, its tracer, its ``EagerResult``), and ``AsyncResult(id)`` is
Celery's too, reading Celery's result backend where ``task_store_eager_result`` stores eager
results (:func:`reads_celery_results`).

With the setting ``pynenc_eager_runner = True`` (Django: ``CELERY_PYNENC_EAGER_RUNNER``) or
inside ``with eager_runner(app):``, an eager app's compat tasks take the production path
instead: ``delay()`` serializes, registers and publishes through pynenc, and a real pynenc
runner in a background thread of this process runs them (retries wait their countdown,
states are pynenc's), on the in-memory broker and state backend (no server needed). The
runner starts on the first call and stops at interpreter exit, or when the ``with`` block
ends (:func:`stop_eager_runner` stops it sooner).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from celery import current_app

from pynenc import Pynenc
from pynenc.exceptions import InvocationNotFoundError
from pynenc.runner import BackgroundRunner
from pynenc.testing import in_memory
from pynenc_celery_compat.bridge import pynenc_app_for

logger = logging.getLogger("pynenc_celery_compat.eager")

#: the Celery setting that opts an eager app's compat tasks into the in-process runner
SETTING = "pynenc_eager_runner"

#: Celery app attribute holding its :class:`EagerRunner` (while one exists)
_ATTRIBUTE = "_pynenc_eager_runner"
#: Celery app attribute counting the open ``with eager_runner(app)`` blocks
_FORCED = "_pynenc_eager_runner_forced"
_lock = threading.Lock()


def wants_runner(celery_app: Any) -> bool:
    """Whether ``celery_app``'s compat tasks run on the in-process runner rather than
    eagerly (the setting, or an open ``with eager_runner(app)`` block)."""
    if celery_app.__dict__.get(_FORCED):
        return True
    return bool(celery_app.conf.get(SETTING))


def runs_eagerly(celery_app: Any) -> bool:
    """Whether ``celery_app`` runs compat calls with Celery's eager path."""
    return bool(celery_app.conf.task_always_eager) and not wants_runner(celery_app)


def reads_celery_results(celery_app: Any, task_id: str) -> bool:
    """Whether ``AsyncResult(task_id)`` reads Celery's result backend rather than pynenc.

    While the app runs eagerly, always: eager calls never reach pynenc, and Celery's backend
    is where ``task_store_eager_result`` (or ``update_state``) stored them; without a stored
    result it is ``PENDING`` with Celery's ``RuntimeWarning``, as in Celery. Outside eager
    mode with ``task_store_eager_result`` on (``.apply()`` results are stored), for an id
    pynenc does not know.
    """
    conf = celery_app.conf
    if conf.task_always_eager:
        return not wants_runner(celery_app)
    if not conf.task_store_eager_result:
        return False
    try:
        pynenc_app_for(celery_app).orchestrator.get_record(task_id)
    except InvocationNotFoundError:
        return True
    return False


class EagerRunner:
    """A pynenc runner of one Celery app in a background thread, on the in-memory broker
    and state backend (``pynenc.testing.in_memory``), for the duration of the test run."""

    def __init__(self, celery_app: Any) -> None:
        self.celery_app = celery_app
        #: the pynenc app the runner serves
        self.pynenc: Pynenc = pynenc_app_for(celery_app)
        self._memory: AbstractContextManager[Pynenc] | None = None
        self._background: BackgroundRunner | None = None
        self._queues: frozenset[str] = frozenset()

    @property
    def running(self) -> bool:
        return self._background is not None

    def start(self) -> None:
        """Point the pynenc app at memory (purged) and start its runner; returns once it
        consumes."""
        if self._memory is None:
            memory = in_memory(self.pynenc)
            memory.__enter__()
            self._memory = memory
        if self._background is not None:
            return
        background = self.pynenc.running_in_background()
        background.start()
        self._background = background
        self._queues = frozenset(self.pynenc.runner.queues)

    def restart(self) -> None:
        """Start the runner again, keeping what the memory backends hold (its queue list
        is fixed when it starts: a task on a new queue needs a restart)."""
        background, self._background = self._background, None
        if background is not None:
            background.stop()
        self.start()

    def stop(self, immediate: bool = False) -> None:
        """Stop the runner (running work may finish unless ``immediate``); the pynenc app
        gets its configured broker and state backend back, and the memory is purged."""
        background, memory = self._background, self._memory
        self._background = self._memory = None
        try:
            if background is not None:
                background.stop(immediate=immediate)
        finally:
            if memory is not None:
                memory.__exit__(None, None, None)

    def consumes(self, queue: str) -> bool:
        return queue in self._queues


def ensure_runner(celery_app: Any, task: Any) -> EagerRunner:
    """The running :class:`EagerRunner` of ``celery_app``, started on first use, and
    restarted if ``task``'s queue is not one it consumes (a task first used after it
    started)."""
    runner: EagerRunner | None = celery_app.__dict__.get(_ATTRIBUTE)
    if (
        runner is not None
        and runner.running
        and runner.consumes(task.pynenc_task_for(runner.pynenc).conf.queue)
    ):
        return runner
    with _lock:
        runner = _runner_of(celery_app)
        runner.start()
        if not runner.consumes(task.pynenc_task_for(runner.pynenc).conf.queue):
            runner.restart()
    return runner


def stop_eager_runner(celery_app: Any = None) -> None:
    """Stop the in-process runner of ``celery_app`` (default: the current app) if it runs;
    the next eager call starts it again while the setting is on."""
    app = celery_app if celery_app is not None else current_app._get_current_object()
    with _lock:
        runner: EagerRunner | None = app.__dict__.get(_ATTRIBUTE)
        if runner is not None:
            runner.stop()


@contextmanager
def eager_runner(celery_app: Any = None) -> Iterator[Pynenc]:
    """For the ``with`` block, ``celery_app``'s (default: the current app's) eager compat
    calls run on an in-process pynenc runner (as with ``pynenc_eager_runner = True``),
    started now and stopped at the end of the block; yields the pynenc app it serves."""
    app = celery_app if celery_app is not None else current_app._get_current_object()
    with _lock:
        app.__dict__[_FORCED] = app.__dict__.get(_FORCED, 0) + 1
    try:
        with _lock:
            runner = _runner_of(app)
            runner.start()
        yield runner.pynenc
    finally:
        with _lock:
            app.__dict__[_FORCED] -= 1
            if not app.__dict__[_FORCED]:
                runner = app.__dict__.get(_ATTRIBUTE)
                if runner is not None:
                    runner.stop()


def _runner_of(celery_app: Any) -> EagerRunner:
    """``celery_app``'s :class:`EagerRunner`, made on first use (call with ``_lock``)."""
    runner: EagerRunner | None = celery_app.__dict__.get(_ATTRIBUTE)
    if runner is None:
        runner = EagerRunner(celery_app)
        celery_app.__dict__[_ATTRIBUTE] = runner
        atexit.register(_stop_at_exit, runner)
    return runner


def _stop_at_exit(runner: EagerRunner) -> None:
    try:
        runner.stop(immediate=True)
    except Exception:  # exiting anyway: say why the runner did not stop cleanly
        logger.exception("The in-process pynenc runner did not stop cleanly")


__all__ = [
    "SETTING",
    "EagerRunner",
    "eager_runner",
    "ensure_runner",
    "reads_celery_results",
    "runs_eagerly",
    "stop_eager_runner",
    "wants_runner",
]
