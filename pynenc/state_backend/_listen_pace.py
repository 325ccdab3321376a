"""When a process's Redis listener reads the completion messages: at once while a thread of
the process waits for an invocation, in batches once none has waited for a while.

Every process that has waited once keeps a subscription to the app's channel, which
carries the end of every invocation of the app. Reading each message as it comes wakes the
listener thread once per message (more on a busy app than the process's own work costs),
so when nobody has waited for :data:`ACTIVE_WINDOW` seconds the listener reads what came in
every :data:`LAZY_TICK` seconds instead, keeping the ends it reads as before.

A thread that starts waiting while the listener reads in batches wakes it and waits until
it has read what had arrived (:meth:`ListenPace.catch_up`): only then does it trust the
ends the listener kept (a purge read late would otherwise leave an end it forgets), and from
then on the listener reads each message as it comes.
"""

from __future__ import annotations

import threading

from pynenc.state_backend._waiters import Waiters

#: Seconds after the last waiter left during which the listener still reads each message
#: as it comes (a process waiting again and again never reads in batches).
ACTIVE_WINDOW = 0.02
#: Seconds between two batch reads while nobody waits.
LAZY_TICK = 0.05
#: Longest a waiter waits for the listener to catch up (it reads the status anyway).
CATCH_UP_TIMEOUT = 1.0


class ListenPace:
    """The listener's reading mode, and the hand-over when a thread starts waiting."""

    def __init__(
        self, waiters: Waiters, active_window: float = ACTIVE_WINDOW, lazy_tick: float = LAZY_TICK
    ) -> None:
        self._waiters = waiters
        self.active_window = active_window
        self.lazy_tick = lazy_tick
        self._cond = threading.Condition()
        self._wanted = threading.Event()
        #: the listener reads in batches: a new waiter has it catch up first
        self.batching = False

    # -- the listener thread ---------------------------------------------------------------

    def should_batch(self) -> bool:
        """Whether nobody has waited for :attr:`active_window` seconds."""
        return self._waiters.idle_for() > self.active_window

    def pause(self) -> None:
        """Sleep until the next batch read: :attr:`lazy_tick` seconds, or until a thread
        starts waiting (or the listener is stopped, :meth:`wake`)."""
        with self._cond:
            self.batching = True
        if self._waiters.idle_for() == 0.0:
            return  # one started waiting since should_batch: it may have missed the flag
        self._wanted.wait(self.lazy_tick)
        self._wanted.clear()

    def stop_batching(self) -> None:
        """The listener has read what had come in and reads each message as it comes from
        now on (or it has ended): a thread waiting for it to catch up goes on."""
        with self._cond:
            self.batching = False
            self._cond.notify_all()

    def wake(self) -> None:
        """End the listener's pause now (it is being stopped)."""
        self._wanted.set()

    # -- a waiting thread --------------------------------------------------------------------

    def catch_up(self) -> None:
        """Called by a thread registered as a waiter: when the listener reads in batches,
        wake it and return once it has read what had come in."""
        if not self.batching:
            return
        with self._cond:
            if self.batching:
                self._wanted.set()
                self._cond.wait_for(lambda: not self.batching, CATCH_UP_TIMEOUT)
