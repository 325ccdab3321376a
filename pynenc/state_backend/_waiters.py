"""Waking threads that wait for an invocation to become final, for backends that share state
across processes (SQLite, Redis).

Each waiting thread parks on an Event of its own, registered under the invocation id. The
backend calls :meth:`Waiters.notify` when it learns of a final status (its own ``set_status``,
a pub/sub message) and :meth:`Waiters.notify_all` when it may have missed some (a purge, a
pub/sub reconnect). A wake-up only means "check again": the backend's stored status decides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pynenc.invocation.status import FINAL, InvocationStatus


class Waiters:
    """Events of the threads waiting on each invocation id, in one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, list[threading.Event]] = {}

    @contextmanager
    def watch(self, invocation_id: str) -> Iterator[threading.Event]:
        """Register an Event for ``invocation_id`` for the duration of the block."""
        event = threading.Event()
        with self._lock:
            self._events.setdefault(invocation_id, []).append(event)
        try:
            yield event
        finally:
            with self._lock:
                events = self._events.get(invocation_id)
                if events is not None:
                    events.remove(event)
                    if not events:
                        del self._events[invocation_id]

    def notify(self, invocation_id: str) -> None:
        """Wake every thread waiting on ``invocation_id``."""
        with self._lock:
            events = list(self._events.get(invocation_id, ()))
        for event in events:
            event.set()

    def notify_all(self) -> None:
        """Wake every waiting thread, so each checks its invocation again."""
        with self._lock:
            events = [event for group in self._events.values() for event in group]
        for event in events:
            event.set()


def wait_until_final(
    read_status: Callable[[], InvocationStatus | None],
    event: threading.Event,
    timeout: float | None,
    first_delay: float,
    max_delay: float,
) -> bool:
    """Re-read the status until it is final; ``False`` on timeout or when the record is gone.

    Between reads the thread sleeps on ``event`` (registered with :meth:`Waiters.watch`
    *before* this call) for ``first_delay``, doubling up to ``max_delay``.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = first_delay
    while True:
        # Cleared before the read: a notify that lands after the read is kept for the wait.
        event.clear()
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
