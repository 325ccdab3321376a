"""ThreadRunner: executes invocations in threads of the current process.

One consumer loop (the thread calling :meth:`ThreadRunner.run`) receives messages, claims
invocations and hands them to worker threads, never holding more claimed work than it has
free slots. A task that waits for another invocation lends its slot back while it waits,
so a runner with a single slot still completes nested calls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pynenc.broker.kombu_broker import Delivery
from pynenc.broker.wakeup import MEMORY_WAKEUP
from pynenc.context import blocking_wait
from pynenc.runner.base import BaseRunner
from pynenc.runner.execution import execute
from pynenc.runner.pool import GrowingPool

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker.envelope import Envelope

logger = logging.getLogger("pynenc.runner")

#: Longest a consumer waits for messages before checking whether it should stop.
POLL_TIMEOUT = 1.0


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
        self._stopping = False
        self._pool = GrowingPool(f"pynenc-{self.runner_id}")

    def run(self) -> None:
        consumer = self.app.broker.consumer(self.queues, prefetch=self.slots)
        logger.info("Runner %s consuming %s", self.runner_id, self.queues)
        try:
            while True:
                free = self._free_slots()
                if free == 0:
                    break
                for delivery in consumer.get(free, POLL_TIMEOUT):
                    self._handle(delivery)
        finally:
            consumer.close()
            self._pool.shutdown()
            with self._cond:
                self._stopping = False  # the runner can be started again

    def stop_runner_loop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self.app.broker.in_process:
            MEMORY_WAKEUP.notify()

    def _free_slots(self) -> int:
        """Wait for a free slot; 0 means the runner is stopping."""
        with self._cond:
            while self._busy >= self.slots and not self._stopping:
                self._cond.wait()
            return 0 if self._stopping else self.slots - self._busy

    def _handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        if envelope is None:
            logger.error("Dropping a message that is not a pynenc envelope: %s", delivery.error)
            delivery.reject()
            return
        try:
            claimed = self.app.orchestrator.claim(envelope, self.runner_id)
        except Exception:
            logger.exception("Claim of %s failed; requeueing it", envelope.invocation_id)
            delivery.message.requeue()
            return
        delivery.ack()
        if not claimed:
            return
        with self._cond:
            self._busy += 1
        self._pool.submit(lambda: self._execute(envelope))

    def _execute(self, envelope: Envelope) -> None:
        token = blocking_wait.set(self._lend_slot)
        try:
            execute(self.app, envelope, self.runner_id)
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
