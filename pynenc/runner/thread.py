"""ThreadRunner: executes invocations in threads of the current process.

One consumer loop (the thread calling :meth:`ThreadRunner.run`) receives messages, claims
invocations and hands them to worker threads, never holding more claimed work than it has
free slots. A task that waits for another invocation lends its slot back while it waits,
so a runner with a single slot still completes nested calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pynenc.broker.wakeup import MEMORY_WAKEUP
from pynenc.context import blocking_wait
from pynenc.runner.base import BaseRunner
from pynenc.runner.execution import execute
from pynenc.runner.outcomes import OutcomeWriter
from pynenc.runner.pool import GrowingPool

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker.envelope import Envelope

logger = logging.getLogger("pynenc.runner")


class ThreadRunner(BaseRunner):
    """Runs up to ``threads`` invocations at once in this process."""

    def __init__(
        self, app: Pynenc, threads: int | None = None, queues: list[str] | None = None
    ) -> None:
        super().__init__(app, queues)
        self.slots = threads if threads is not None else app.conf.runner.threads
        if self.slots < 1:
            raise ValueError(f"ThreadRunner needs at least one thread, got {self.slots}")
        self._cond = threading.Condition()
        self._busy = 0
        self._pool = GrowingPool(f"pynenc-{self.runner_id}")
        self._outcomes = OutcomeWriter(app.orchestrator)

    def _serve(self) -> None:
        logger.info("Runner %s consuming %s", self.runner_id, self.queues)
        self.consume(self.slots, self._free_slots, self._start)

    def _shutdown(self) -> None:
        grace = 0.0 if self.stopping_now else self.app.conf.runner.stop_grace
        idle = self._wait_idle(grace)
        self._outcomes.flush(timeout=None if idle else 5.0)
        if not idle:
            moved = self.release_running(f"runner {self.runner_id} stopped before finishing")
            logger.warning("Runner %s stopped with %d invocations rerouted", self.runner_id, moved)
        self._pool.shutdown(wait=idle)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
        if self.app.broker.in_process:
            MEMORY_WAKEUP.notify()

    def _free_slots(self) -> int:
        """Wait for a free slot; 0 means the runner is stopping."""
        with self._cond:
            while self._busy >= self.slots and not self.stopping:
                self._cond.wait()
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
        with self._cond:
            self._busy += 1
        self._pool.submit(lambda: self._execute(envelope))

    def _execute(self, envelope: Envelope) -> None:
        token = blocking_wait.set(self._lend_slot)
        try:
            execute(self.app, envelope, self.runner_id, self._outcomes)
        except BaseException:
            logger.exception("Runner failed while executing %s", envelope.invocation_id)
        finally:
            blocking_wait.reset(token)
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @contextmanager
    def _lend_slot(self) -> Iterator[None]:
        """While a task waits for another invocation, its slot runs other work."""
        self._release()
        try:
            yield
        finally:
            with self._cond:
                # take the slot back at once, even above the limit: the awaited work is
                # done and this task should finish first (the loop waits until busy < slots)
                self._busy += 1
