"""What every runner offers, and the life cycle they share.

``run()`` blocks: it starts the services (heartbeat, recovery), serves until
``stop_runner_loop()`` (or SIGTERM/SIGINT when run in the main thread), then stops
gracefully: no new work, running work gets ``runner.stop_grace`` seconds, and whatever is
still running after that is rerouted to other runners. A second stop request (a second
signal, or ``stop_runner_loop(immediate=True)``) skips the grace period; nothing is left
RUNNING under a runner that has gone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from pynenc.broker import Delivery, MalformedEnvelopeError
from pynenc.conf.liveness import check_liveness
from pynenc.exceptions import PynencError, StateBackendUnavailableError
from pynenc.identifiers import new_runner_id
from pynenc.logs import apply_logging_level
from pynenc.orchestrator.admission import admit_claimed
from pynenc.runner.execution import import_task_modules, resolve_task
from pynenc.runner.intake import Intake
from pynenc.runner.ownership import still_owned
from pynenc.runner.services import RunnerServices

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker import Envelope
    from pynenc.orchestrator.claims import Refusal
    from pynenc.records import InvocationStatus
    from pynenc.task import Task

logger = logging.getLogger("pynenc.runner")

DEFAULT_QUEUE = "default"

#: Longest a consumer waits for messages before checking whether it should stop.
POLL_TIMEOUT = 1.0


class BaseRunner(ABC):
    """Consumes invocations of one app and executes them."""

    def __init__(self, app: Pynenc, queues: list[str] | None = None) -> None:
        self.app = app
        self.runner_id = new_runner_id(type(self).__name__)
        self._queues = queues
        self._stop_lock = threading.Lock()
        self._stop_requests = 0
        #: set while the runner consumes (its queues are declared and subscribed)
        self.consuming = threading.Event()
        # set when this runner may have been declared dead: recheck the claimed backlog
        self._recheck_backlog = False
        #: SIGTERM/SIGINT stop :meth:`run` when it runs in the main thread; worker
        #: processes turn this off: their parent decides when they stop
        self.handles_signals = True

    @property
    def queues(self) -> list[str]:
        """Queues consumed: the explicit list, else ``runner.queues``, else every queue
        the app's registered tasks use (always including ``default``)."""
        if self._queues:
            return list(self._queues)
        if self.app.conf.runner.queues:
            return list(self.app.conf.runner.queues)
        used = {task.conf.queue for task in self.app.tasks.values()}
        return sorted(used | {DEFAULT_QUEUE})

    def info(self) -> dict[str, Any]:
        """What this runner is, for ``pynenc runners`` (stored by its heartbeat service)."""
        return {
            "kind": type(self).__name__,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": self.queues,
            "slots": self.capacity(),
            "started": time.time(),
        }

    def capacity(self) -> int | str | None:
        """How much it runs at once, as shown by ``pynenc runners``."""
        slots = getattr(self, "slots", None)
        return slots if isinstance(slots, int) else None

    @property
    def stopping(self) -> bool:
        return self._stop_requests > 0

    @property
    def stopping_now(self) -> bool:
        """A second stop request: skip the grace period."""
        return self._stop_requests > 1

    def preflight(self) -> None:
        """Fail fast, before anything starts: a ``broker_url`` no broker can use
        (:class:`~pynenc.exceptions.ConfigError`), a module of ``task_modules`` that does
        not import (``ConfigError``; the others' tasks are registered, so their queues are
        consumed), a ``serializer`` that is not registered (``ConfigError``), a state
        backend that does not answer (:class:`~pynenc.exceptions.StateBackendError` within
        ``state_backend_connect_timeout``). An unreachable broker is waited for, as
        Celery's workers do on start-up: it may come up later."""
        _ = self.app.broker  # built: its URL checked
        import_task_modules(self.app)  # their queues and options known before consuming
        _ = self.app.serializer  # registered under the configured name
        self.app.state_backend.check()

    def run(self) -> None:
        """Consume and execute until :meth:`stop_runner_loop` is called (blocks).

        The ``runner_start`` hooks run once its services run, before it serves; the
        ``runner_stop`` hooks once it has stopped (running work finished or rerouted).

        :raises ConfigError: ``runner.dead_after`` is too short for ``runner.heartbeat_interval``.
        """
        conf = self.app.conf.runner
        check_liveness(conf, conf.heartbeat_interval, conf.dead_after)
        apply_logging_level(self.app.conf)  # it may have been assigned since the app was built
        self.preflight()
        services = RunnerServices(
            self.app, self.runner_id, info=self.info(), on_takeover=self._on_takeover
        )
        hooks = self.app.hooks
        with self._signals():
            services.start()
            try:
                if hooks.runner_start:
                    hooks.emit("runner_start", self)
                self._serve()
            finally:
                try:
                    self._shutdown()
                finally:
                    services.stop()
                    with self._stop_lock:
                        self._stop_requests = 0  # the runner can be started again
                    if hooks.runner_stop:
                        hooks.emit("runner_stop", self)

    def stop_runner_loop(self, immediate: bool = False) -> None:
        """Ask :meth:`run` to stop: no new work is taken, running work may finish.

        A second call (or ``immediate=True``) skips the grace period: running work is
        rerouted to other runners at once.
        """
        with self._stop_lock:
            self._stop_requests = max(self._stop_requests + 1, 2 if immediate else 1)
        self._wake()

    def release_running(self, reason: str) -> int:
        """Reroute what this runner still runs; returns how many invocations moved."""
        conf = self.app.conf.runner
        return self.app.orchestrator.release_owned(
            self.runner_id, self.runner_id, reason, conf.max_reroutes
        )

    def consume(
        self,
        prefetch: int,
        free_slots: Callable[[], int],
        start: Callable[[Envelope], None],
        more_slots: Callable[[int, float], int] | None = None,
    ) -> None:
        """Receive, claim and ``start`` invocations while slots are free (``free_slots``
        waits for one; 0 means stop).

        Everything received at once is claimed in one backend call. A batch message can
        bring more invocations than there are free slots: the rest wait here, already
        claimed, and are started before anything new is received.

        ``more_slots(n, timeout)`` waits up to ``timeout`` s until ``n`` slots are free and
        returns how many are: given, the loop claims in batches under load (see
        :class:`~pynenc.runner.intake.Intake`).
        """
        consumer = self.app.broker.consumer(self.queues, prefetch=prefetch)
        intake = Intake(consumer, prefetch, more_slots, POLL_TIMEOUT)
        backlog: deque[Envelope] = deque()
        self.consuming.set()
        held_since = 0.0
        try:
            while (free := free_slots()) > 0:
                if not backlog:
                    deliveries = intake.take(free)
                    if self.stopping:
                        # asked to stop while waiting for messages: a stopping runner takes
                        # no new work (another runner's reroute may be among them)
                        for delivery in deliveries:
                            delivery.requeue()
                        break
                    backlog.extend(self.claim(deliveries))
                    held_since = time.monotonic()
                elif self._recheck_backlog or (
                    time.monotonic() - held_since > self.app.conf.runner.dead_after
                ):
                    # claimed long ago, or this runner may have been declared dead since:
                    # other runners may run them now; start only those still ours
                    self._recheck_backlog = False
                    backlog = deque(still_owned(self.app, self.runner_id, list(backlog)))
                    held_since = time.monotonic()
                tasks, started = self.app.tasks, 0
                while backlog and started < free:
                    envelope = backlog.popleft()
                    task = tasks.get(envelope.task_id)
                    # a task with running controls or a rate limit is asked first; one held
                    # back never takes a slot (uncontrolled: this one attribute check)
                    if (task is None or task.start_policy is not None) and not self._admit(
                        envelope, task, bool(backlog)
                    ):
                        continue
                    start(envelope)
                    started += 1
        finally:
            self.consuming.clear()
            consumer.close()
            if backlog:
                self._release_unstarted(list(backlog))

    def _admit(self, envelope: Envelope, task: Task[Any, Any] | None, more: bool) -> bool:
        """Whether to start ``envelope`` now: its task's running slots and rate limit
        allow it (:func:`~pynenc.orchestrator.admission.admit_claimed`; when not, it has
        been held back or failed; ``more``: other claimed invocations wait behind it). A
        task not registered yet is resolved first; one that cannot be is started, to fail
        with the reason why."""
        if task is None:
            try:
                task = resolve_task(self.app, envelope.task_id)
            except PynencError:
                return True
        policy = task.start_policy
        if policy is None:
            return True
        return admit_claimed(
            self.app.orchestrator, envelope, policy, self.runner_id, wait_here=not more
        )

    def claim(self, deliveries: Sequence[Delivery]) -> list[Envelope]:
        """Settle received messages: the envelopes this runner now owns and must run.

        Not pynenc messages: dead-lettered. The others are claimed in one backend call,
        then acked; an invocation whose claim is refused (another runner has it, or it is
        finished or purged) is dropped. A message naming another task or other arguments
        than its invocation was registered with is refused too, and dead-lettered when
        nothing in it was genuine. The backend failing: the messages are requeued.
        """
        messages = []
        for delivery in deliveries:
            if delivery.envelopes:
                messages.append(delivery)
            else:
                logger.error("Dead-lettering a message it cannot run: %s", delivery.error)
                delivery.reject()
        return self._claim_messages(messages) if messages else []

    def _claim_messages(self, messages: Sequence[Delivery]) -> list[Envelope]:
        """Claim the envelopes of ``messages`` in one backend call and settle each message.

        The backend unreachable: they are requeued. The backend refusing something in
        them (text it cannot store, say): requeued, that would fail again for ever, so the
        messages are claimed one at a time and the one that fails alone is dead-lettered.
        """
        envelopes = [envelope for delivery in messages for envelope in delivery.envelopes]
        try:
            refusals = self.app.orchestrator.claim_each(envelopes, self.runner_id)
        except StateBackendUnavailableError:
            logger.exception("Claim of %d invocations failed; requeueing them", len(envelopes))
            for delivery in messages:
                delivery.requeue()
            return []
        except Exception as exc:
            if len(messages) > 1:
                logger.exception(
                    "Claim of %d invocations failed; claiming one message at a time",
                    len(envelopes),
                )
                return [e for delivery in messages for e in self._claim_messages([delivery])]
            [delivery] = messages
            delivery.error = MalformedEnvelopeError(f"the state backend cannot claim it: {exc!r}")
            logger.error("Dead-lettering a message it cannot claim: %s", delivery.error)
            delivery.reject()
            return []
        claimed: list[Envelope] = []
        acked: list[Delivery] = []
        outcomes = iter(refusals)
        for delivery in messages:
            mine = [next(outcomes) for _ in delivery.envelopes]
            if self._forged(delivery, mine):
                delivery.reject()  # kept in the dead-letter queue for inspection
            else:
                acked.append(delivery)
                won = zip(delivery.envelopes, mine, strict=True)
                claimed.extend(envelope for envelope, refusal in won if refusal is None)
        # every claim is recorded: ack them (with one frame where the broker allows)
        Delivery.ack_all(acked)
        if self.app.hooks.run_dropped and len(claimed) < len(envelopes):
            for envelope, refusal in zip(envelopes, refusals, strict=True):
                if refusal is not None and refusal.status is not None:
                    self.dropped(envelope, refusal.status, stopped=False)
        return claimed

    def dropped(self, envelope: Envelope, status: InvocationStatus, stopped: bool) -> None:
        """Tell the ``run_dropped`` hooks that ``envelope`` is not run (``stopped``: it was
        running and this runner stopped it) because it is ``status`` (CANCELLED, EXPIRED)."""
        hooks = self.app.hooks
        if hooks.run_dropped:
            hooks.emit("run_dropped", self, envelope, status, stopped)

    @staticmethod
    def _forged(delivery: Delivery, refusals: Sequence[Refusal | None]) -> bool:
        """Whether every claim of ``delivery`` was refused as forged (then it is
        dead-lettered rather than acked)."""
        if not all(refusal is not None and refusal.forged for refusal in refusals):
            return False
        reasons = {refusal.reason for refusal in refusals if refusal is not None}
        delivery.error = MalformedEnvelopeError("; ".join(sorted(reasons)))
        return True

    def _on_takeover(self, reason: str) -> None:
        """Called by the services thread: this runner may have been declared dead."""
        self._recheck_backlog = True
        self._drop_taken_over()

    def _drop_taken_over(self) -> None:
        """Stop counting as running work what other runners took over (runners that track
        their running invocations override this)."""
        return None

    def _release_unstarted(self, envelopes: list[Envelope]) -> None:
        """Claimed but never started (the runner is stopping): publish them again (their
        records read in one backend call, rerouted in one batch)."""
        reason = f"runner {self.runner_id} stopped before starting it"
        records = self.app.state_backend.get_many([e.invocation_id for e in envelopes])
        mine = [(r, reason) for r in records if r is not None and r.owner == self.runner_id]
        if mine:
            self.app.orchestrator.reroute_many(
                mine, self.runner_id, self.app.conf.runner.max_reroutes
            )

    @abstractmethod
    def _serve(self) -> None:
        """Consume and execute until a stop is requested."""

    @abstractmethod
    def _shutdown(self) -> None:
        """Finish or reroute running work (grace period unless stopping now)."""

    @abstractmethod
    def _wake(self) -> None:
        """Interrupt waits in ``_serve``/``_shutdown`` so they see a stop request."""

    def _on_signal(self, signum: int) -> None:
        """A stop signal arrived: stop gracefully (a second one: at once)."""
        name = signal.Signals(signum).name
        if self.stopping:
            logger.warning(
                "Runner %s got %s again: stopping now, running work is rerouted",
                self.runner_id,
                name,
            )
        else:
            logger.warning(
                "Runner %s got %s: stopping, running work may take %g s to finish "
                "(signal again to stop now)",
                self.runner_id,
                name,
                self.app.conf.runner.stop_grace,
            )
        self.stop_runner_loop()

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """In the main thread, SIGTERM/SIGINT stop the runner (twice: at once)."""
        if not self.handles_signals or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum: int, frame: FrameType | None) -> None:
            # A signal handler runs in the main thread between two of its bytecodes: the
            # main thread may hold a lock the stop needs, or be half-way through an import
            # the stop would repeat (building the broker). Acting here could deadlock or
            # see a half-imported module, so the stop is requested from a thread of its own.
            threading.Thread(
                target=self._on_signal, args=(signum,), name="pynenc-signal", daemon=True
            ).start()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
