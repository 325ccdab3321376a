"""ProcessRunner: one process per invocation.

Isolation first: a task that leaks memory, changes global state or crashes takes only its
own process with it (a crash is rerouted to another try, within ``runner.max_reroutes``).
The parent consumes, claims and heartbeats; each child runs one invocation and exits.
A child that waits for another invocation tells the parent, which lends its slot to new
work until the wait is over.

Children come from a *forkserver*: a single-threaded process that imported the app once
and forks a child per invocation. Forking the runner itself would copy a process whose
other threads (consumer, heartbeats) may hold locks inside SQLite, redis-py or kombu at
that instant, and a child could deadlock on them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import forkserver
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from pynenc.attempt import Attempt, current_attempt
from pynenc.conf.masking import masked_url
from pynenc.context import blocking_wait
from pynenc.exceptions import RunnerError
from pynenc.orchestrator.overrun import record_overrun
from pynenc.records import InvocationStatus
from pynenc.runner import followers
from pynenc.runner.base import POLL_TIMEOUT, BaseRunner
from pynenc.runner.deadlines import RunningWatch, task_limits
from pynenc.runner.execution import execute, resolve_task
from pynenc.runner.ownership import taken_over
from pynenc.runner.reference import app_reference, app_settings, load_worker_app
from pynenc.runner.signals import ignore_stop_signals, stop_signals_blocked
from pynenc.runner.soft_limit import soft_limit_signal

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import SimpleQueue

    from pynenc.app import Pynenc
    from pynenc.broker import Envelope

logger = logging.getLogger("pynenc.runner")
_BLOCKED, _RESUMED = "blocked", "resumed"
#: Longest wait for a killed child to be gone (SIGKILL: normally milliseconds).
KILL_WAIT = 5.0


#: packages of the modules a child needs for its connections (the state backend's, the
#: broker's and its kombu transport's)
_CLIENT_PACKAGES = ("pynenc.state_backend.", "pynenc.broker.", "kombu.transport.")


def _client_modules() -> list[str]:
    """The modules of those packages this process has imported (its state backend and broker
    are built by now): the forkserver imports them once, instead of every child on its
    first call (redis-py and kombu's Redis transport: a quarter of a second per task)."""
    return sorted(name for name in list(sys.modules) if name.startswith(_CLIENT_PACKAGES))


def require_cross_process(app: Pynenc, runner: str) -> None:
    """Process runners need state and messages that other processes can see."""
    if not app.state_backend.capabilities.cross_process or app.broker.in_process:
        raise RunnerError(
            f"{runner} runs tasks in other processes, so it needs a cross-process state "
            "backend and broker (now: "
            f"state_backend_url={masked_url(app.conf.state_backend_url)!r}, "
            f"broker_url={masked_url(app.conf.broker_url)!r}). Use "
            "sqlite:////absolute/path.db or redis://… for both, or use ThreadRunner."
        )


class ProcessRunner(BaseRunner):
    """Runs up to ``processes`` invocations at once, each in a fresh forked process."""

    def __init__(
        self, app: Pynenc, processes: int | None = None, queues: list[str] | None = None
    ) -> None:
        super().__init__(app, queues)
        self.slots = processes or app.conf.runner.processes or os.cpu_count() or 1
        self._ctx = multiprocessing.get_context("forkserver")
        self._cond = threading.Condition()
        self._children: dict[int, tuple[BaseProcess, Envelope]] = {}
        self._blocked: set[int] = set()
        self._lost: set[int] = set()  #: children whose invocation another runner took over
        #: children this runner killed (time limit, cancellation): not rerouted when reaped
        self._stopped: set[int] = set()
        self._attempts: dict[int, Attempt] = {}  #: per child: its time limit, its invocation
        self._running = self._new_watch()
        self._events: SimpleQueue[tuple[str, int]] = self._ctx.SimpleQueue()
        self._monitor_wake_r, self._monitor_wake_w = self._ctx.Pipe(duplex=False)
        self._monitor: threading.Thread | None = None
        self._monitor_stop = False
        self._reference = ""
        self._settings: dict[str, dict[str, Any]] = {}

    # -- parent: consume, claim, fork -----------------------------------------------------

    def _serve(self) -> None:
        require_cross_process(self.app, "ProcessRunner")
        self._reference = app_reference(self.app)
        self._settings = app_settings(self.app)
        # the server imports the app's module once; each child then forks ready to run
        # the app's module and its task_modules (their tasks and triggers) imported once
        preload = [self._reference.partition(":")[0], *self.app.conf.task_modules]
        self._ctx.set_forkserver_preload(list(dict.fromkeys(preload + _client_modules())))
        # the forkserver and the children it forks are in this process group; started
        # with the stop signals blocked, a group SIGTERM/SIGINT cannot kill them (the
        # children then ignore them: this runner alone decides, see runner.signals)
        with stop_signals_blocked():
            forkserver.ensure_running()
        self._running = self._new_watch()  # a fresh one each run: a stopped one stays stopped
        self._monitor = threading.Thread(
            target=self._watch, name="pynenc-proc-monitor", daemon=True
        )
        self._monitor.start()
        self.consume(self.slots, self._free_slots, self._start)

    def _busy(self) -> int:
        return len(self._children) - len(self._blocked | self._lost)

    def _free_slots(self) -> int:
        with self._cond:
            while self._busy() >= self.slots and not self.stopping:
                self._cond.wait()
            return 0 if self.stopping else self.slots - self._busy()

    def _start(self, envelope: Envelope) -> None:
        child = self._ctx.Process(
            target=_child_main,
            args=(self._reference, self._settings, envelope, self.runner_id, self._events),
            name=f"pynenc-{envelope.invocation_id[:8]}",
            daemon=True,
        )
        timeout, _ = task_limits(self.app, envelope.task_id)
        started = time.monotonic()  # the hard limit counts from the fork
        with self._cond:
            child.start()
            assert child.pid is not None
            self._children[child.pid] = (child, envelope)
            # every child is watched: for its hard limit, and for cancellation
            attempt = Attempt(
                envelope.invocation_id, envelope.task_id, timeout, key=child.pid, started=started
            )
            self._attempts[child.pid] = attempt
        self._running.add(attempt)
        self._monitor_wake_w.send(b"")

    # -- parent: watch children ------------------------------------------------------------

    def _watch(self) -> None:
        """Reap finished children and follow their blocked/resumed reports."""
        reader = self._events._reader  # type: ignore[attr-defined]
        while True:
            with self._cond:
                sentinels = {child.sentinel: pid for pid, (child, _) in self._children.items()}
                if self._monitor_stop and not sentinels:
                    return
            ready = wait([reader, self._monitor_wake_r, *sentinels], timeout=POLL_TIMEOUT)
            for item in ready:
                if item is reader:
                    self._on_event(*self._events.get())
                elif item is self._monitor_wake_r:
                    self._monitor_wake_r.recv()
                else:
                    self._reap(sentinels[item])  # type: ignore[index]

    def _on_event(self, kind: str, pid: int) -> None:
        with self._cond:
            if kind == _BLOCKED:
                self._blocked.add(pid)
            else:
                self._blocked.discard(pid)
            self._cond.notify_all()

    def _reap(self, pid: int) -> None:
        with self._cond:
            child, envelope = self._children.pop(pid)
            self._blocked.discard(pid)
            self._lost.discard(pid)
            attempt = self._attempts.pop(pid, None)
            stopped = pid in self._stopped
            self._stopped.discard(pid)
            self._cond.notify_all()
        if attempt is not None:
            self._running.discard(attempt)
        child.join()
        if child.exitcode != 0 and not stopped:
            self._recover_child(envelope, child.exitcode)

    # -- parent: time limits and cancellation (see pynenc.runner.deadlines) -----------------

    def _new_watch(self) -> RunningWatch:
        return RunningWatch(
            self.app,
            f"pynenc-watch-{self.runner_id}",
            on_overrun=self._on_overrun,
            on_cancelled=self._on_cancelled,
        )

    def _kill(self, pid: int) -> tuple[BaseProcess, Envelope] | None:
        """Kill child ``pid`` (marked stopped: it is not rerouted when reaped) and wait for it
        to be gone, so nothing of it is written after this; ``None`` if already reaped."""
        with self._cond:
            entry = self._children.get(pid)
            if entry is None:
                return None
            self._stopped.add(pid)
        child = entry[0]
        child.kill()
        # the monitor thread reaps it (joins); here only wait until it is dead
        wait([child.sentinel], timeout=KILL_WAIT)
        return entry

    def _on_overrun(self, attempt: Attempt) -> None:
        """The watch: a child ran past its task's hard limit: kill it, record the timeout."""
        assert attempt.timeout is not None
        killed = self._kill(attempt.key)
        if killed is None:
            return
        status = record_overrun(
            self.app,
            killed[1],
            self.runner_id,
            attempt.timeout,
            attempt.elapsed(),
            f"the runner killed its process (pid {attempt.key})",
        )
        followers.after_overrun(self.app, killed[1], self.runner_id, status)

    def _on_cancelled(self, attempt: Attempt) -> None:
        """The watch: a child's invocation was cancelled: kill it (CANCELLED is recorded)."""
        killed = self._kill(attempt.key)
        if killed is not None:
            logger.info(
                "Invocation %s was cancelled while running: its process (pid %s) was killed",
                attempt.invocation_id,
                attempt.key,
            )
            self.dropped(killed[1], InvocationStatus.CANCELLED, stopped=True)

    def _recover_child(self, envelope: Envelope, exitcode: int | None) -> None:
        """A child died mid-invocation: reroute it (its outcome was never recorded)."""
        record = self.app.state_backend.get(envelope.invocation_id)
        if record is None or record.status.is_final:
            return
        if record.owner != self.runner_id:
            logger.warning(
                "Invocation %s: its process exited (code %s) but runner %s no longer owns it "
                "(owner %s, status %s); another runner took it over, not rerouting it",
                envelope.invocation_id,
                exitcode,
                self.runner_id,
                record.owner,
                record.status.name,
            )
            return
        with self._cond:  # a later attempt (a retry) may already run in another child
            if record.num_retries != envelope.num_retries or any(
                env.invocation_id == envelope.invocation_id for _, env in self._children.values()
            ):
                return
        reason = f"worker process exited with code {exitcode} while running it"
        logger.warning("Invocation %s: %s", envelope.invocation_id, reason)
        self.app.orchestrator.reroute(
            record, self.runner_id, reason, self.app.conf.runner.max_reroutes
        )

    def _drop_taken_over(self) -> None:
        """Children running an invocation another runner took over give their slot back
        and are not waited for at stop (they finish on their own, or are killed then)."""
        with self._cond:
            running = {env.invocation_id: pid for pid, (_, env) in self._children.items()}
        taken = taken_over(self.app, self.runner_id, list(running))
        with self._cond:
            self._lost.update(running[i] for i in taken if running[i] in self._children)
            self._cond.notify_all()

    # -- parent: stop ------------------------------------------------------------------------

    def _shutdown(self) -> None:
        grace = 0.0 if self.stopping_now else self.app.conf.runner.stop_grace
        deadline = time.monotonic() + grace
        with self._cond:
            while len(self._children) > len(self._lost) and not self.stopping_now:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            leftover = list(self._children.values())
        for child, _ in leftover:
            child.kill()  # their invocations are rerouted below, by whoever reaps them
        for child, envelope in leftover:
            child.join()
            record = self.app.state_backend.get(envelope.invocation_id)
            # only what is still ours: another runner may have taken it over meanwhile
            if record is not None and record.owner == self.runner_id:
                reason = f"runner {self.runner_id} stopped before it finished"
                self.app.orchestrator.reroute(
                    record, self.runner_id, reason, self.app.conf.runner.max_reroutes
                )
        self._running.stop()
        self._monitor_stop = True
        self._monitor_wake_w.send(b"")
        if self._monitor is not None:
            self._monitor.join(timeout=5)

    def _wake(self) -> None:
        # the consumer notices within POLL_TIMEOUT (never an in-process broker here)
        with self._cond:
            self._cond.notify_all()


# -- child -----------------------------------------------------------------------------------


def _child_main(
    reference: str,
    settings: dict[str, dict[str, Any]],
    envelope: Envelope,
    runner_id: str,
    events: SimpleQueue[tuple[str, int]],
) -> None:
    """Run one invocation in a fresh process, with its own connections."""
    ignore_stop_signals()  # the parent kills a child past the grace period, if it must
    app = load_worker_app(reference, settings)
    pid = os.getpid()

    @contextmanager
    def report_wait() -> Iterator[None]:
        events.put((_BLOCKED, pid))
        try:
            yield
        finally:
            events.put((_RESUMED, pid))

    blocking_wait.set(report_wait)
    # the hard limit is the parent's (it kills this process); the soft one is raised here
    _, soft_timeout = task_limits(app, envelope.task_id)
    if soft_timeout is None:
        execute(app, envelope, runner_id)
    else:
        task = resolve_task(app, envelope.task_id)
        attempt = Attempt(
            envelope.invocation_id,
            envelope.task_id,
            soft_timeout=soft_timeout,
            soft_error=task.soft_timeout_error,
        )
        current_attempt.set(attempt)
        with soft_limit_signal(attempt, task.func):
            execute(app, envelope, runner_id)
    _close_quietly(app)


def _close_quietly(app: Any) -> None:
    for name in ("broker", "state_backend"):
        component = app.__dict__.get(name)
        if component is not None:
            try:
                component.close()
            except Exception:  # exiting anyway; the outcome is already stored
                logger.debug("closing %s failed", name, exc_info=True)
