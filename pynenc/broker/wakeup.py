"""Wake in-process consumers of transports that cannot block on a read.

kombu's ``memory://`` transport has no blocking get: after an empty poll it sleeps its
polling interval (1 s by default). Its queues live in this process, so every publish can
signal waiting consumers here instead, and they poll again at once. An *interrupt*
(:meth:`KombuBroker.wake <pynenc.broker.kombu_broker.KombuBroker.wake>`) also ends their
wait, empty-handed, so a runner loop looks at its stop flag at once.
"""

from __future__ import annotations

import threading


class Wakeup:
    """A publish counter that consumers wait to see change."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._seq = 0
        #: how many interrupts so far: a consumer that sees it change stops waiting
        self.interrupts = 0

    def snapshot(self) -> int:
        """The counter now; pass it to :meth:`wait` after a poll came back empty."""
        return self._seq

    def notify(self) -> None:
        with self._cond:
            self._seq += 1
            self._cond.notify_all()

    def interrupt(self) -> None:
        """End the current waits: consumers poll once more, then return what they have."""
        with self._cond:
            self._seq += 1
            self.interrupts += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait until something was published after ``seen``; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._seq != seen, timeout)


#: One per process, shared by every memory:// broker (kombu shares the queues the same way).
MEMORY_WAKEUP = Wakeup()
