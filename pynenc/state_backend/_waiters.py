"""Waking threads that wait for an invocation to become final, for backends that share state
across processes (SQLite, Redis).

Each waiting thread parks on a :class:`Waiter` of its own, registered under the invocation
id. The backend calls :meth:`Waiters.notify` when it learns of a final status (its own
``set_status``, a pub/sub message): the waiter returns at once, without reading the status
again. :meth:`Waiters.notify_all` (a purge, a pub/sub reconnect: something may have been
missed) only makes every waiter read its status again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pynenc.records import FINAL, InvocationStatus


class Waiter:
    """One waiting thread, on one invocation or several: woken by ``event``.

    ``done`` collects the ids notified final; ``recheck`` says something may have been
    missed (a purge, a reconnect), so the statuses must be read again.
    """

    __slots__ = ("done", "event", "recheck", "sent")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.done: deque[str] = deque()  # appends and pops are atomic: no lock needed
        self.recheck = False
        #: what a notification carried with an id (a Redis message: the final record)
        self.sent: dict[str, str] = {}

    def take(self) -> tuple[set[str], bool]:
        """The ids notified final since the last call, and whether to read again."""
        recheck, self.recheck = self.recheck, False
        done = set()
        while self.done:
            done.add(self.done.popleft())
        return done, recheck


class Waiters:
    """The threads waiting on each invocation id, in one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Waiter]] = {}
        self._idle_since = time.monotonic()  #: when the last waiter left

    def idle_for(self) -> float:
        """Seconds since the last waiting thread stopped waiting (0.0 while one waits)."""
        if self._waiting:
            return 0.0
        return time.monotonic() - self._idle_since

    @contextmanager
    def watch(self, *invocation_ids: str) -> Iterator[Waiter]:
        """Register one waiter for ``invocation_ids`` for the duration of the block."""
        waiter = Waiter()
        with self._lock:
            for invocation_id in invocation_ids:
                self._waiting.setdefault(invocation_id, []).append(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                for invocation_id in invocation_ids:
                    waiters = self._waiting.get(invocation_id)
                    if waiters is not None:
                        waiters.remove(waiter)
                        if not waiters:
                            del self._waiting[invocation_id]
                if not self._waiting:
                    self._idle_since = time.monotonic()

    def notify(self, invocation_id: str, sent: str = "") -> None:
        """``invocation_id`` reached a final status: wake its waiters for good (``sent``:
        what the notification carried with it, kept for them)."""
        with self._lock:
            waiters = self._waiting.get(invocation_id)
            if not waiters:
                return
            waiters = list(waiters)
        for waiter in waiters:
            if sent:
                waiter.sent[invocation_id] = sent
            waiter.done.append(invocation_id)
            waiter.event.set()

    def notify_all(self) -> None:
        """Wake every waiting thread, so each reads its invocation's status again."""
        with self._lock:
            waiters = [waiter for group in self._waiting.values() for waiter in group]
        for waiter in waiters:
            waiter.recheck = True
            waiter.event.set()


def wait_until_final(
    read_status: Callable[[], InvocationStatus | None],
    waiter: Waiter,
    timeout: float | None,
    first_delay: float,
    max_delay: float,
) -> bool:
    """Re-read the status until it is final; ``False`` on timeout or when the record is gone.

    Between reads the thread sleeps on ``waiter`` (registered with :meth:`Waiters.watch`
    *before* this call) for ``first_delay``, doubling up to ``max_delay``.
    """
    event = waiter.event
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = first_delay
    while True:
        # Cleared before the read: a notify that lands after the read is kept for the wait.
        event.clear()
        if waiter.done:
            return True
        status = read_status()
        if status is None:
            return False
        if status in FINAL:
            return True
        if deadline is None:
            event.wait(delay)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event.wait(min(delay, remaining))
        delay = min(delay * 2, max_delay)


def wait_until_all_final(
    read_statuses: Callable[[list[str]], list[InvocationStatus | None]],
    waiter: Waiter,
    invocation_ids: list[str],
    timeout: float | None,
    recheck_interval: float,
) -> bool:
    """Wait until every id is final; ``False`` on timeout or when a record is gone.

    The statuses are read once, then only on a ``recheck`` or every ``recheck_interval``
    (in case a notification was lost); in between, notifications alone shrink the set.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = set(invocation_ids)
    read = True
    while True:
        if read:
            waiter.event.clear()
            waiter.take()
            ordered = list(pending)
            statuses = read_statuses(ordered)
            if any(status is None for status in statuses):
                return False
            pending = {i for i, s in zip(ordered, statuses, strict=True) if s not in FINAL}
            next_read = time.monotonic() + recheck_interval
        if not pending:
            return True
        wake_at = next_read if deadline is None else min(next_read, deadline)
        waiter.event.wait(max(0.0, wake_at - time.monotonic()))
        waiter.event.clear()
        done, recheck = waiter.take()
        pending -= done
        now = time.monotonic()
        if deadline is not None and now >= deadline and pending:
            return False
        read = bool(pending) and (recheck or now >= next_read)
