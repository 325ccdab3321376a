"""A worker process that runs its invocations in its main thread, where signals reach them.

A pool worker process with one slot (each of a ``PersistentProcessRunner``'s, and a
``MultiThreadRunner``'s with ``runner.threads = 1``) consumes in a thread of its own and
hands its invocations to the process's main thread. Python runs signal handlers only
there, so the soft time limit is raised by SIGALRM inside the task even while it sleeps or
waits on I/O (:mod:`pynenc.runner.soft_limit`), as in a ``ProcessRunner`` child — and as in
a Celery prefork child.

The main thread runs one invocation at a time. Work started while it is busy — while its
task waits for another invocation and lends its slot — runs on a thread of a
:class:`~pynenc.runner.pool.GrowingPool`, where the soft limit is cooperative
(``invocation.checkpoint()``).

The main thread cannot be stopped from another thread either: when the runner gives up on
the invocation it runs (its hard limit, a cancellation, the stop's grace period running
out), the process exits at once once the runner has stopped, and the task with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pynenc.runner.pool import GrowingPool, Job

if TYPE_CHECKING:
    from pynenc.runner.base import BaseRunner

logger = logging.getLogger("pynenc.runner")

#: Whether this platform raises the soft limit by a signal (SIGALRM; not on Windows).
AVAILABLE = hasattr(signal, "setitimer")


class MainThreadPool:
    """Runs jobs in the main thread (:meth:`serve`); those submitted while it is busy run
    on threads of a growing pool. For one run of a runner: once shut down, every job goes
    to those threads (a worker process runs its runner once)."""

    def __init__(self, name: str) -> None:
        self._overflow = GrowingPool(name)
        self._cond = threading.Condition()
        self._job: Job | None = None  #: handed over, not started yet
        self._busy = False  #: a job was handed over and has not returned yet
        self._closed = False

    def submit(self, job: Job) -> None:
        with self._cond:
            if not self._busy and not self._closed:
                self._busy = True
                self._job = job
                self._cond.notify_all()
                return
        self._overflow.submit(job)

    def serve(self) -> None:
        """Run the jobs handed over, in this thread, until the pool is closed (a job
        handed over before is run first)."""
        while True:
            with self._cond:
                while self._job is None and not self._closed:
                    self._cond.wait()
                job, self._job = self._job, None
            if job is None:
                return
            try:
                job()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    @property
    def busy(self) -> bool:
        """Whether a job handed to the main thread has not returned yet."""
        return self._busy

    def shutdown(self, wait: bool = True) -> None:
        """Take no more jobs: :meth:`serve` returns once its job is done; ``wait`` waits
        for that job and for the overflow threads' ones."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            if wait:
                self._cond.wait_for(lambda: not self._busy)
        self._overflow.shutdown(wait)

    def close(self) -> bool:
        """:meth:`shutdown` without waiting; ``False`` when the main thread still runs a
        job (it will not return by itself: nobody waits for it any more)."""
        self.shutdown(wait=False)
        return not self.busy


def run_on_main_thread(
    runner: BaseRunner, pool: MainThreadPool, exit_code: Callable[[], int]
) -> None:
    """Run ``runner`` (whose jobs go to ``pool``) with its consumer in a thread and its
    jobs in this, the main thread; return once it has stopped, raising what ``run()``
    raised.

    When the runner stops while this thread still runs a job it gave up on, the process
    exits at once, with ``exit_code()``: the job cannot be stopped otherwise.
    """
    failed: list[BaseException] = []

    def consume() -> None:
        try:
            runner.run()
        except BaseException as exc:  # raised again in the main thread, as without a pool
            failed.append(exc)
        finally:
            if not pool.close():
                _exit_now(runner, exit_code())

    consumer = threading.Thread(target=consume, name="pynenc-worker-consumer", daemon=True)
    consumer.start()
    pool.serve()
    consumer.join()
    if failed:
        raise failed[0]


def _exit_now(runner: BaseRunner, code: int) -> None:
    """Leave with the main thread still in a task: its outcome is recorded or rerouted
    already, and it cannot be stopped otherwise."""
    logger.info(
        "Worker %s exits (code %d) with a task still running in its main thread: it was "
        "given up (time limit, cancellation or the stop's grace period)",
        runner.runner_id,
        code,
    )
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed: nothing left to lose
            stream.flush()
    os._exit(code)
