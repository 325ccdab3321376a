"""Runner services: heartbeats, the services lease, and recovery of dead runners' work.

Every runner heartbeats. One runner at a time (the holder of the ``services`` lease)
also looks for runners that went silent and reroutes the invocations they were running,
and runs the scheduler: a thread of its own that publishes scheduled invocations when they
fall due (sleeping until the next due time it knows of, at most ``runner.scheduler_poll``),
so a due time is met whatever the heartbeat interval.

A runner can be declared dead while alive: paused (SIGSTOP, a suspended VM), starved, or
cut off from the backend for longer than ``runner.dead_after``. It notices when its own
heartbeat was forgotten (recovery forgets the runners it declares dead) or when it has not
beaten for that long itself, and reports it (``on_takeover``): the runner then checks which
of its invocations are still its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pynenc.app import Pynenc

logger = logging.getLogger("pynenc.runner.services")

SERVICES_LEASE = "services"
#: Longest pause between scheduler passes while they fail (a backend or broker outage).
SCHEDULER_BACKOFF = 5.0


class RunnerServices:
    """A daemon thread that keeps ``runner_id`` alive and, when leader, recovers work."""

    def __init__(
        self,
        app: Pynenc,
        runner_id: str,
        *,
        info: Mapping[str, Any] | None = None,
        on_takeover: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.runner_id = runner_id
        self.info = info  #: what ``pynenc runners`` shows of this runner (JSON values)
        #: called (with the reason) when this runner may have been declared dead
        self.on_takeover = on_takeover
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_redelivery = 0.0
        self._last_beat: float | None = None
        self._scheduler: threading.Thread | None = None
        #: until when this runner holds the services lease (0: not held), by its own clock
        self._lease_until = 0.0
        #: whether this runner ran the last trigger pass (see :mod:`pynenc.trigger`)
        self._evaluating = False

    def start(self) -> None:
        self.beat()  # alive before the first claim, so recovery never mistakes us for dead
        if self.info is not None:
            self.app.state_backend.set_runner_info(self.runner_id, self.info)
        self._take_lease(time.time())  # a free lease is taken at once: the scheduler starts
        self._thread = threading.Thread(
            target=self._loop, name=f"pynenc-services-{self.runner_id}", daemon=True
        )
        self._thread.start()
        self._scheduler = threading.Thread(
            target=self._schedule_loop, name=f"pynenc-scheduler-{self.runner_id}", daemon=True
        )
        self._scheduler.start()

    def stop(self) -> None:
        """Stop beating and forget this runner (call once its work is finished or rerouted)."""
        self._stop.set()
        for thread in (self._thread, self._scheduler):
            if thread is not None:
                thread.join()
        self._thread = self._scheduler = None
        try:
            if self._lease_until:  # hand the lease on at once (an expiry now frees it)
                self.app.state_backend.acquire_lease(
                    SERVICES_LEASE, self.runner_id, 0.0, time.time()
                )
                self._lease_until = 0.0
            self.app.state_backend.forget_runner(self.runner_id)
        except Exception:  # a backend outage must not block a stop; recovery copes later
            logger.warning("Could not unregister runner %s", self.runner_id, exc_info=True)

    def beat(self) -> None:
        now = time.time()
        self.app.state_backend.heartbeat(self.runner_id, now)
        self._last_beat = now

    def run_once(self) -> list[str]:
        """One heartbeat and, when this runner holds the lease, one recovery pass."""
        conf = self.app.conf.runner
        now = time.time()
        backend = self.app.state_backend
        self._check_alive(now, conf.dead_after)
        backend.heartbeat(self.runner_id, now)
        self._last_beat = now
        if not self._take_lease(now):
            return []
        dead = self.app.orchestrator.recover(
            self.runner_id, now, conf.dead_after, conf.max_reroutes
        )
        if dead:
            logger.warning("Runners found dead, their work rerouted: %s", ", ".join(dead))
        # scanning the waiting invocations costs more than a heartbeat: do it less often
        if now - self._last_redelivery >= conf.redeliver_after / 4:
            self._last_redelivery = now
            self.app.orchestrator.redeliver_stale(self.runner_id, now, conf.redeliver_after)
        return dead

    def _check_alive(self, now: float, dead_after: float) -> None:
        """Before beating: report if other runners may have declared this one dead."""
        if self._last_beat is None:
            return
        silent = now - self._last_beat
        if silent > dead_after:
            reason = f"it did not heartbeat for {silent:.1f} s (runner.dead_after = {dead_after})"
            level = logging.WARNING
        elif self.runner_id not in self.app.state_backend.runners():
            # another runner's recovery, a purge, or a state backend that lost its data:
            # which one shows in the ownership check, which warns for each invocation
            # actually taken over. What `pynenc runners` shows of this runner went too.
            reason = "its heartbeat was removed (another runner's recovery, or a purge)"
            level = logging.INFO
            if self.info is not None:
                self.app.state_backend.set_runner_info(self.runner_id, self.info)
        else:
            return
        logger.log(
            level,
            "Runner %s may have been declared dead: %s. Other runners may have taken its "
            "invocations over; it keeps only those it still owns",
            self.runner_id,
            reason,
        )
        if self.on_takeover is not None:
            self.on_takeover(reason)

    def _take_lease(self, now: float) -> bool:
        """Take or renew the services lease; whether this runner holds it now."""
        ttl = self.app.conf.runner.dead_after
        held = self.app.state_backend.acquire_lease(SERVICES_LEASE, self.runner_id, ttl, now)
        self._lease_until = now + ttl if held else 0.0
        return held

    def publish_due(self) -> float:
        """One scheduler pass, when this runner holds the services lease; seconds until
        the next one."""
        poll = self.app.conf.runner.scheduler_poll
        now = time.time()
        if now >= self._lease_until:
            if self._evaluating:  # another runner evaluates triggers now
                self._evaluating = False
                self.app.trigger.lease_lost()
            return poll  # not the holder (or its lease ran out): look again later
        wait = self.app.orchestrator.publish_due(self.runner_id, now, poll)
        if self.app.trigger.definitions():
            if not self._evaluating:  # starting to evaluate: read what is stored, afresh
                self.app.trigger.lease_lost()  # (an earlier runner of this process, a purge)
            self._evaluating = True
            try:
                wait = min(wait, self.app.trigger.run_pass())
            except Exception:  # a trigger's failure must not stop the scheduler's work
                logger.exception("Trigger pass failed; retrying")
        return wait

    def _schedule_loop(self) -> None:
        wait, failures = 0.0, 0
        while not self._stop.wait(wait):
            try:
                wait = self.publish_due()
            except Exception:  # a backend or broker outage: keep scheduling after it
                failures += 1
                # logged in full once per outage; the passes back off to SCHEDULER_BACKOFF
                logger.log(
                    logging.ERROR if failures == 1 else logging.DEBUG,
                    "Scheduler pass failed (%d in a row); retrying",
                    failures,
                    exc_info=True,
                )
                poll = self.app.conf.runner.scheduler_poll
                wait = min(SCHEDULER_BACKOFF, poll * 2 ** min(failures, 10))
                continue
            if failures:
                logger.info("Scheduler passes work again after %d failures", failures)
                failures = 0

    def _loop(self) -> None:
        interval = self.app.conf.runner.heartbeat_interval
        while not self._stop.wait(interval):
            try:
                self.run_once()
            except Exception:  # keep beating through transient backend errors
                logger.exception("Runner services pass failed; retrying")
