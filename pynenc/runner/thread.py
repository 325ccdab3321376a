"""ThreadRunner: executes invocations in threads of the current process.

One consumer loop (the thread calling :meth:`ThreadRunner.run`) receives messages, claims
invocations and hands them to worker threads, never holding more claimed work than it has
free slots. A task that waits for another invocation lends its slot back while it waits,
so a runner with a single slot still completes nested calls.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

from pynenc.attempt import Attempt, current_attempt
from pynenc.context import blocking_wait
from pynenc.orchestrator.overrun import record_overrun
from pynenc.records import InvocationStatus
from pynenc.runner import followers
from pynenc.runner.base import BaseRunner
from pynenc.runner.deadlines import RunningWatch, soft_error_class, task_limits
from pynenc.runner.execution import execute, resolve_task
from pynenc.runner.outcomes import OutcomeWriter
from pynenc.runner.ownership import taken_over
from pynenc.runner.pool import GrowingPool
from pynenc.runner.soft_limit import soft_limit_signal

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker import Envelope
    from pynenc.runner.pool import JobPool

logger = logging.getLogger("pynenc.runner")


class _Job:
    """One invocation running on a pool thread."""

    __slots__ = ("envelope", "lending", "lost")

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self.lending = False  #: waiting on another invocation: its slot is lent out
        #: no longer counted as busy: taken over by another runner, or given up on (past
        #: its hard time limit; cancelled, in a worker process)
        self.lost = False


class ThreadRunner(BaseRunner):
    """Runs up to ``threads`` invocations at once in this process.

    :param pool: where its jobs run (default: threads of its own; a worker process passes
        a :class:`~pynenc.runner.main_thread.MainThreadPool`).
    """

    def __init__(
        self,
        app: Pynenc,
        threads: int | None = None,
        queues: list[str] | None = None,
        *,
        pool: JobPool | None = None,
    ) -> None:
        super().__init__(app, queues)
        self.slots = threads if threads is not None else app.conf.runner.threads
        if self.slots < 1:
            raise ValueError(f"ThreadRunner needs at least one thread, got {self.slots}")
        self._cond = threading.Condition()
        self._busy = 0  #: slots taken: running jobs, less those lending or lost
        self._jobs: set[_Job] = set()
        self._pool = pool if pool is not None else GrowingPool(f"pynenc-{self.runner_id}")
        self._outcomes = OutcomeWriter(app.orchestrator)
        #: a worker process of a pool runner, replaced by its supervisor when it exits:
        #: it stops cancelled work too, by retiring (see :meth:`_give_up`)
        self.replaceable = False
        #: why it retired itself (a worker process: it exits to be replaced)
        self.retired: str | None = None
        self._watch: RunningWatch | None = None

    def _serve(self) -> None:
        logger.info("Runner %s consuming %s", self.runner_id, self.queues)
        self._watch = RunningWatch(
            self.app,
            f"pynenc-watch-{self.runner_id}",
            on_overrun=self._on_overrun,
            on_cancelled=self._on_cancelled if self.replaceable else None,
        )
        self.consume(self.slots, self._free_slots, self._start, self._more_slots)

    def _shutdown(self) -> None:
        grace = 0.0 if self.stopping_now else self.app.conf.runner.stop_grace
        idle = self._wait_idle(grace)  # time limits still hold meanwhile
        if self._watch is not None:
            self._watch.stop()
        self._outcomes.flush(timeout=None if idle else 5.0)
        if not idle:
            moved = self.release_running(f"runner {self.runner_id} stopped before finishing")
            logger.warning("Runner %s stopped with %d invocations rerouted", self.runner_id, moved)
        with self._cond:
            lost = bool(self._jobs)  # idle, yet jobs run: taken over, not waited for
        self._pool.shutdown(wait=idle and not lost)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
        self.app.broker.wake()  # a consumer waiting for messages looks at the stop now

    def _free_slots(self) -> int:
        """Wait for a free slot; 0 means the runner is stopping."""
        with self._cond:
            while self._busy >= self.slots and not self.stopping:
                self._cond.wait()
            return 0 if self.stopping else self.slots - self._busy

    def _more_slots(self, wanted: int, timeout: float) -> int:
        """Wait up to ``timeout`` s until ``wanted`` slots are free; how many are (0:
        stopping)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.slots - self._busy < wanted and not self.stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return 0 if self.stopping else self.slots - self._busy

    def _wait_idle(self, timeout: float) -> bool:
        """Wait until no invocation runs here, or ``timeout``, or a second stop request."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy > 0 and not self.stopping_now:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._busy == 0

    def _start(self, envelope: Envelope) -> None:
        job = _Job(envelope)
        with self._cond:
            self._busy += 1
            self._jobs.add(job)
        self._pool.submit(lambda: self._execute(job))

    def _execute(self, job: _Job) -> None:
        token = blocking_wait.set(lambda: self._lend_slot(job))
        attempt = self._attempt(job)
        attempt_token = current_attempt.set(attempt) if attempt is not None else None
        try:
            with self._soft_limit_signal(attempt):
                execute(self.app, job.envelope, self.runner_id, self._outcomes)
        except BaseException:
            logger.exception("Runner failed while executing %s", job.envelope.invocation_id)
        finally:
            blocking_wait.reset(token)
            if attempt_token is not None:
                current_attempt.reset(attempt_token)
            if attempt is not None and self._watch is not None:
                self._watch.discard(attempt)
            with self._cond:
                self._jobs.discard(job)
                if not job.lost:
                    self._busy -= 1
                self._cond.notify_all()

    # -- time limits and cancellation (see pynenc.runner.deadlines) -------------------------

    def _attempt(self, job: _Job) -> Attempt | None:
        """The attempt of ``job`` when something may give up on it: a time limit, or (in a
        worker process) a cancellation; ``None`` otherwise (nothing more to do)."""
        envelope = job.envelope
        timeout, soft_timeout = task_limits(self.app, envelope.task_id)
        watch = self._watch
        watched = watch is not None and (timeout is not None or watch.polls)
        if not watched and soft_timeout is None:
            return None
        attempt = Attempt(
            envelope.invocation_id,
            envelope.task_id,
            timeout,
            soft_timeout,
            key=job,
            soft_error=soft_error_class(self.app, envelope.task_id),
        )
        if watched and watch is not None:
            watch.add(attempt)
        return attempt

    def _soft_limit_signal(self, attempt: Attempt | None) -> AbstractContextManager[None]:
        """In the main thread (a worker process's, see :mod:`pynenc.runner.main_thread`)
        the soft limit is raised by a signal, even in a sleep; in other threads it is
        cooperative (``checkpoint()``)."""
        if (
            attempt is None
            or attempt.soft_timeout is None
            or threading.current_thread() is not threading.main_thread()
        ):
            return nullcontext()
        func = resolve_task(self.app, attempt.task_id).func
        return soft_limit_signal(attempt, func, _SHIELDED)

    def _on_overrun(self, attempt: Attempt) -> None:
        """The watch: ``attempt`` ran past its hard limit. Its thread cannot be stopped: the
        slot is freed, the timeout recorded, and the thread's own outcome discarded."""
        assert attempt.timeout is not None
        if not self._give_up(attempt, "time limit"):
            return
        job: _Job = attempt.key
        done = (
            "its worker process is replaced (a thread cannot be stopped)"
            if self.replaceable
            else "the runner stopped waiting for it; its thread runs on until the function "
            "returns (a thread cannot be stopped), and what it returns is discarded"
        )
        status = record_overrun(
            self.app, job.envelope, self.runner_id, attempt.timeout, attempt.elapsed(), done
        )
        followers.after_overrun(self.app, job.envelope, self.runner_id, status)
        self._retire(f"invocation {attempt.invocation_id} ran past its time limit")

    def _on_cancelled(self, attempt: Attempt) -> None:
        """The watch (worker processes only): ``attempt`` was cancelled while running."""
        if self._give_up(attempt, "cancelled"):
            logger.info(
                "Invocation %s was cancelled while running in worker %s; the worker is "
                "replaced to stop it",
                attempt.invocation_id,
                self.runner_id,
            )
            self._retire(f"invocation {attempt.invocation_id} was cancelled while running")
            self.dropped(attempt.key.envelope, InvocationStatus.CANCELLED, stopped=True)

    def _give_up(self, attempt: Attempt, why: str) -> bool:
        """Take the outcome of ``attempt`` from its thread and free the slot; ``False`` when
        the body had returned first (its outcome stands)."""
        if not attempt.settle(why):
            return False
        job: _Job = attempt.key
        with self._cond:
            if job in self._jobs and not job.lost:
                job.lost = True
                if not job.lending:
                    self._busy -= 1
            self._cond.notify_all()
        return True

    def _retire(self, reason: str) -> None:
        """A worker process with a thread it gave up on stops taking work and exits once
        its other work is done (within ``runner.stop_grace``): its supervisor replaces it,
        and the thread goes with the process. A plain ThreadRunner runs on."""
        if not self.replaceable:
            return
        with self._stop_lock:
            first = self.retired is None
            self.retired = self.retired or reason
        if first and not self.stopping:
            logger.warning("Worker %s retires to be replaced: %s", self.runner_id, reason)
            self.stop_runner_loop()

    def _drop_taken_over(self) -> None:
        """Jobs whose invocation another runner took over give their slot back: the stop
        does not wait for them, and new work may run meanwhile (they finish on their own)."""
        with self._cond:
            jobs = {job.envelope.invocation_id: job for job in self._jobs if not job.lost}
        taken = taken_over(self.app, self.runner_id, list(jobs))
        with self._cond:
            for invocation_id in taken:
                job = jobs[invocation_id]
                if job in self._jobs and not job.lost:
                    job.lost = True
                    if not job.lending:
                        self._busy -= 1
            self._cond.notify_all()

    @contextmanager
    def _lend_slot(self, job: _Job) -> Iterator[None]:
        """While a task waits for another invocation, its slot runs other work."""
        with self._cond:
            job.lending = True
            if not job.lost:
                self._busy -= 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                job.lending = False
                # take the slot back at once, even above the limit: the awaited work is
                # done and this task should finish first (the loop waits until busy < slots)
                if not job.lost:
                    self._busy += 1


#: Runner code a task calls into that the soft-limit signal must not interrupt: the slot
#: accounting around a wait for another invocation (the wait itself may be interrupted).
_SHIELDED = frozenset({inspect.unwrap(ThreadRunner._lend_slot).__code__})
