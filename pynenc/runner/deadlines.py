"""Watching what a runner runs: hard time limits and cancelled invocations.

A runner registers each attempt it must be able to give up on with its
:class:`RunningWatch`. One daemon thread per runner sleeps until the nearest hard
deadline and, when the runner stops cancelled work (process runners, pool workers), until
its next cancellation check: every ``runner.cancel_check_interval`` it reads the records
of everything it watches in one batched read (``get_many``) and reports those CANCELLED.
While nothing is watched the thread sleeps on a condition: an idle runner reads nothing,
and a task with neither a limit nor a runner that polls is never registered.

The callbacks run on the watch thread; the runner decides what giving up means (kill a
child, abandon a thread and free its slot, retire a worker process).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pynenc.exceptions import PynencError, SoftTimeoutExceeded
from pynenc.records import InvocationStatus
from pynenc.runner.execution import resolve_task

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.attempt import Attempt

logger = logging.getLogger("pynenc.runner")

Callback = Callable[["Attempt"], None]


def task_limits(app: Pynenc, task_key: str) -> tuple[float | None, float | None]:
    """``(timeout, soft_timeout)`` of the task ``task_key`` (``None`` each when unset, or
    when the task cannot be resolved: its invocation then fails on its own)."""
    try:
        conf = resolve_task(app, task_key).conf
    except PynencError:
        return None, None
    return conf.timeout, conf.soft_timeout


def soft_error_class(app: Pynenc, task_key: str) -> type[Exception]:
    """What the task ``task_key`` raises past its soft limit: its class's
    ``soft_timeout_error`` (pynenc's when the task cannot be resolved)."""
    try:
        return resolve_task(app, task_key).soft_timeout_error
    except PynencError:
        return SoftTimeoutExceeded


class RunningWatch:
    """Hard deadlines of a runner's attempts and, optionally, their cancellations.

    :param on_overrun: called once for an attempt past its hard limit (it is unwatched).
    :param on_cancelled: called once for an attempt found CANCELLED; ``None``: this runner
        does not look for cancellations (its tasks see them cooperatively).
    """

    def __init__(
        self,
        app: Pynenc,
        name: str,
        on_overrun: Callback,
        on_cancelled: Callback | None = None,
    ) -> None:
        self.app = app
        self.name = name
        self._on_overrun = on_overrun
        self._on_cancelled = on_cancelled
        self._cond = threading.Condition()
        self._attempts: set[Attempt] = set()
        self._next_check = 0.0
        self._stopped = False
        self._thread: threading.Thread | None = None

    @property
    def polls(self) -> bool:
        """Whether it looks for cancellations (every attempt must then be watched)."""
        return self._on_cancelled is not None

    def add(self, attempt: Attempt) -> None:
        with self._cond:
            if self.polls and not self._attempts:
                # the first check one interval after the first start: a cancel before the
                # start was refused by the claim
                self._next_check = time.monotonic() + self.app.conf.runner.cancel_check_interval
            self._attempts.add(attempt)
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def discard(self, attempt: Attempt) -> None:
        with self._cond:
            self._attempts.discard(attempt)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    overdue = [a for a in self._attempts if _past(a.hard_at, now)]
                    check = self.polls and bool(self._attempts) and now >= self._next_check
                    if overdue or check:
                        break
                    self._cond.wait(self._sleep(now))
                self._attempts.difference_update(overdue)
                checked = list(self._attempts) if check else []
                if check:
                    self._next_check = now + self.app.conf.runner.cancel_check_interval
            for attempt in sorted(overdue, key=lambda a: a.hard_at or 0.0):
                self._call(self._on_overrun, attempt)
            if checked:
                self._check_cancelled(checked)

    def _sleep(self, now: float) -> float | None:
        """Seconds to the next deadline or check; ``None``: nothing to wait for."""
        times = [a.hard_at for a in self._attempts if a.hard_at is not None]
        if self.polls and self._attempts:
            times.append(self._next_check)
        return max(0.0, min(times) - now) if times else None

    def _check_cancelled(self, attempts: list[Attempt]) -> None:
        """One read of the records of ``attempts``; report the CANCELLED ones."""
        assert self._on_cancelled is not None
        try:
            records = self.app.state_backend.get_many([a.invocation_id for a in attempts])
        except Exception:  # a backend outage: check again next time
            logger.warning("Could not check %d invocations for cancellation", len(attempts))
            return
        for attempt, record in zip(attempts, records, strict=True):
            if record is None or record.status is not InvocationStatus.CANCELLED:
                continue
            with self._cond:
                if attempt not in self._attempts:
                    continue  # finished (or overran) meanwhile
                self._attempts.discard(attempt)
            self._call(self._on_cancelled, attempt)

    def _call(self, callback: Callback, attempt: Attempt) -> None:
        try:
            callback(attempt)
        except Exception:
            logger.exception("Runner watch failed acting on invocation %s", attempt.invocation_id)


def _past(deadline: float | None, now: float) -> bool:
    return deadline is not None and deadline <= now
