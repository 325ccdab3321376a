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
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pynenc.invocation.status import FINAL, InvocationStatus


class Waiter:
    """One waiting thread: woken by ``event``; ``final`` once its invocation is known final."""

    __slots__ = ("event", "final")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.final = False


class Waiters:
    """The threads waiting on each invocation id, in one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Waiter]] = {}

    @contextmanager
    def watch(self, invocation_id: str) -> Iterator[Waiter]:
        """Register a waiter for ``invocation_id`` for the duration of the block."""
        waiter = Waiter()
        with self._lock:
            self._waiting.setdefault(invocation_id, []).append(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                waiters = self._waiting.get(invocation_id)
                if waiters is not None:
                    waiters.remove(waiter)
                    if not waiters:
                        del self._waiting[invocation_id]

    def notify(self, invocation_id: str) -> None:
        """``invocation_id`` reached a final status: wake its waiters for good."""
        with self._lock:
            waiters = list(self._waiting.get(invocation_id, ()))
        for waiter in waiters:
            waiter.final = True
            waiter.event.set()

    def notify_all(self) -> None:
        """Wake every waiting thread, so each reads its invocation's status again."""
        with self._lock:
            waiters = [waiter for group in self._waiting.values() for waiter in group]
        for waiter in waiters:
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
        if waiter.final:
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
