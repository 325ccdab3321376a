"""Runners made of worker processes: MultiThreadRunner and PersistentProcessRunner.

The parent supervises; each worker is a spawned process running a :class:`ThreadRunner`
with its own runner id (so recovery sees each worker live or die on its own). A worker
that dies is replaced at once, and what it was running is rerouted without waiting for
its heartbeat to go stale.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import BrokerError
from pynenc.identifiers import new_runner_id
from pynenc.runner.base import BaseRunner
from pynenc.runner.process import require_cross_process
from pynenc.runner.reference import app_reference, app_settings, load_worker_app
from pynenc.runner.signals import STOP, STOP_NOW, ignore_stop_signals, stop_signals_blocked

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from pynenc.app import Pynenc

logger = logging.getLogger("pynenc.runner")

CHECK_INTERVAL = 0.5  #: how often the pool size is reconsidered
SCALE_DOWN_IDLE = 15.0  #: seconds of empty queues before a MultiThreadRunner shrinks
EXIT_MARGIN = 5.0  #: seconds a stopping worker gets, past its grace, to record and exit
#: Exit code of a worker that retired itself to be replaced: it gave up on a thread (a task
#: past its hard time limit, or cancelled while running) that only its exit can stop.
EXIT_RETIRED = 75


class _Worker:
    def __init__(self, process: BaseProcess, runner_id: str, control: Connection) -> None:
        self.process = process
        self.runner_id = runner_id
        self.control = control  #: the parent's end of the worker's stop pipe
        self.retiring = False
        self.told: bytes | None = None  #: the last stop instruction sent

    def tell(self, instruction: bytes) -> None:
        """Send a stop instruction (once each); a worker already gone needs none."""
        if self.told == instruction:
            return
        self.told = instruction
        with contextlib.suppress(OSError):
            self.control.send_bytes(instruction)


class ProcessPoolRunner(BaseRunner):
    """Supervises spawned worker processes, each a ThreadRunner of ``threads`` slots."""

    def __init__(
        self,
        app: Pynenc,
        processes: int | None = None,
        threads: int | None = None,
        queues: list[str] | None = None,
    ) -> None:
        super().__init__(app, queues)
        self.max_processes = processes or app.conf.runner.processes or os.cpu_count() or 1
        self.threads = threads if threads is not None else app.conf.runner.threads
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: dict[str, _Worker] = {}
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._lock = threading.Lock()

    def capacity(self) -> str:
        return f"{self.max_processes} processes x {self.threads} threads"

    # -- policy (subclasses) -----------------------------------------------------------------

    def _initial_size(self) -> int:
        return self.max_processes

    def _resize(self, live: int) -> int:
        """The number of workers wanted now, given ``live`` of them."""
        return self.max_processes

    # -- supervision -------------------------------------------------------------------------

    def _serve(self) -> None:
        require_cross_process(self.app, type(self).__name__)
        reference = app_reference(self.app)
        for _ in range(self._initial_size()):
            self._spawn(reference)
        self.consuming.set()  # its workers consume (each once it has imported the app)
        try:
            self._supervise(reference)
        finally:
            self.consuming.clear()

    def _supervise(self, reference: str) -> None:
        while not self.stopping:
            sentinels = {w.process.sentinel: w for w in self._workers.values()}
            for ready in wait([self._wake_r, *sentinels], timeout=CHECK_INTERVAL):
                if ready is self._wake_r:
                    self._wake_r.recv()
                else:
                    self._on_exit(sentinels[ready])  # type: ignore[index]
            if self.stopping:
                return
            live = [w for w in self._workers.values() if not w.retiring]
            wanted = self._resize(len(live))
            for _ in range(wanted - len(live)):
                self._spawn(reference)
            for worker in live[wanted:]:
                self._retire(worker)

    def _spawn(self, reference: str) -> None:
        runner_id = new_runner_id("ThreadRunner")
        control_r, control_w = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_worker_main,
            args=(
                reference,
                runner_id,
                self.threads,
                self.queues,
                app_settings(self.app),
                control_r,
            ),
            name=f"pynenc-worker-{runner_id.rsplit(':', 1)[-1]}",
        )
        with stop_signals_blocked():  # the worker starts with them blocked (see signals)
            process.start()
        control_r.close()  # the worker holds its own copy; closing ours lets it see EOF
        self._workers[runner_id] = _Worker(process, runner_id, control_w)
        logger.info("Started worker %s (pid %s)", runner_id, process.pid)

    def _retire(self, worker: _Worker, now: bool = False) -> None:
        """Tell a worker to stop: gracefully (it finishes its work) or ``now``."""
        worker.retiring = True
        worker.tell(STOP_NOW if now else STOP)

    def _on_exit(self, worker: _Worker) -> None:
        worker.process.join()
        worker.control.close()
        self._workers.pop(worker.runner_id, None)
        if worker.process.exitcode == EXIT_RETIRED:
            logger.info(
                "Worker %s retired itself (a task it ran overran its time limit or was "
                "cancelled); replacing it",
                worker.runner_id,
            )
        elif worker.process.exitcode != 0 or not worker.retiring:
            logger.warning(
                "Worker %s exited with code %s; rerouting its work",
                worker.runner_id,
                worker.process.exitcode,
            )
        self._release_worker(worker, f"worker process exited (code {worker.process.exitcode})")

    def _release_worker(self, worker: _Worker, reason: str) -> None:
        conf = self.app.conf.runner
        self.app.orchestrator.release_owned(
            worker.runner_id, self.runner_id, reason, conf.max_reroutes
        )
        self.app.state_backend.forget_runner(worker.runner_id)

    def _shutdown(self) -> None:
        """Tell every worker to stop and wait for them: ``runner.stop_grace`` (plus a
        margin for their own shutdown), cut short by a second stop request, which is
        passed on to the workers. A worker still alive at the end is killed; whatever a
        worker still owned is rerouted."""
        workers = list(self._workers.values())
        deadline = time.monotonic() + self.app.conf.runner.stop_grace + EXIT_MARGIN
        escalated = False
        while True:
            if self.stopping_now and not escalated:
                escalated = True
                deadline = min(deadline, time.monotonic() + EXIT_MARGIN)
            alive = [w for w in workers if w.process.is_alive()]
            for worker in alive:
                self._retire(worker, now=escalated)
            remaining = deadline - time.monotonic()
            if not alive or remaining <= 0:
                break
            for ready in wait([self._wake_r, *(w.process.sentinel for w in alive)], remaining):
                if ready is self._wake_r:
                    self._wake_r.recv()
        for worker in workers:
            if worker.process.is_alive():
                logger.warning("Worker %s did not stop in time; killing it", worker.runner_id)
                worker.process.kill()
            worker.process.join()
            worker.control.close()
            self._release_worker(worker, f"runner {self.runner_id} stopped")
        self._workers.clear()

    def _wake(self) -> None:
        with self._lock:
            self._wake_w.send(b"")

    def queue_depth(self) -> int | None:
        """Messages waiting in this runner's queues (``None``: the broker did not answer)."""
        try:
            return self.app.broker.queue_depth(self.queues)
        except BrokerError as exc:
            logger.debug("Could not read the depth of %s: %s", self.queues, exc)
            return None


class PersistentProcessRunner(ProcessPoolRunner):
    """A fixed pool of ``runner.processes`` worker processes, one task slot each
    (plus slots lent while a task waits); dead workers are replaced."""

    def __init__(
        self, app: Pynenc, processes: int | None = None, queues: list[str] | None = None
    ) -> None:
        super().__init__(app, processes=processes, threads=1, queues=queues)


class MultiThreadRunner(ProcessPoolRunner):
    """Worker processes times ``runner.threads`` threads; starts with one process and adds
    processes (up to ``runner.processes``) while the queues hold a backlog, shrinking
    again after ``SCALE_DOWN_IDLE`` seconds of empty queues."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle_since: float | None = None
        self._last_growth = 0.0

    def _initial_size(self) -> int:
        return 1

    def _resize(self, live: int) -> int:
        depth = self.queue_depth()
        if depth is None:  # the broker did not answer: keep the pool as it is
            return max(live, 1)
        now = time.monotonic()
        if depth == 0:
            self._idle_since = self._idle_since or now
            if live > 1 and now - self._idle_since >= SCALE_DOWN_IDLE:
                self._idle_since = now
                return live - 1
            return max(live, 1)
        self._idle_since = None
        if depth >= self.threads and live < self.max_processes and now - self._last_growth > 1:
            self._last_growth = now
            return live + 1
        return max(live, 1)


def _worker_main(
    reference: str,
    runner_id: str,
    threads: int,
    queues: list[str],
    settings: dict[str, dict[str, Any]],
    control: Connection,
) -> None:
    """Entry point of a spawned worker: import the app, apply the parent's settings, run
    until the parent says stop (or is gone).

    A worker with one slot runs its invocations in its main thread, where the soft time
    limit is raised by a signal (:mod:`pynenc.runner.main_thread`); one with several runs
    them in threads, where it is cooperative."""
    from pynenc.runner import main_thread
    from pynenc.runner.thread import ThreadRunner

    ignore_stop_signals()
    app = load_worker_app(reference, settings)
    pool = None
    if threads == 1 and main_thread.AVAILABLE:
        pool = main_thread.MainThreadPool(f"pynenc-{runner_id}")
    runner = ThreadRunner(app, threads=threads, queues=queues, pool=pool)
    runner.runner_id = runner_id
    runner.handles_signals = False
    runner.replaceable = True  # it may retire to get rid of a thread it cannot stop
    threading.Thread(
        target=_follow_parent, args=(control, runner), name="pynenc-worker-control", daemon=True
    ).start()
    if pool is None:
        runner.run()
    else:
        main_thread.run_on_main_thread(runner, pool, lambda: EXIT_RETIRED if runner.retired else 0)
    if runner.retired:
        sys.exit(EXIT_RETIRED)  # the thread it gave up on dies with the process


def _follow_parent(control: Connection, runner: BaseRunner) -> None:
    """Pass the parent's stop instructions on to ``runner``; the pipe closing without one
    means the parent died: stop gracefully rather than run on unsupervised."""
    while True:
        try:
            instruction = control.recv_bytes()
        except (EOFError, OSError):
            if not runner.stopping:
                logger.warning("Worker %s lost its parent runner; stopping", runner.runner_id)
                runner.stop_runner_loop()
            return
        if instruction == STOP_NOW:
            runner.stop_runner_loop(immediate=True)
        elif not runner.stopping:
            runner.stop_runner_loop()
