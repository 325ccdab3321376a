"""The stop-signal handler never blocks the interrupted main thread.

A signal handler runs between two bytecodes of the main thread, which may hold a lock the
stop needs or be half-way through importing a module the stop would import again (a
SIGTERM right after ``pynenc runner start`` printed its banner once died of a
half-imported kombu transport). The handler hands the stop to a thread of its own.
"""

from __future__ import annotations

import signal
import threading
import time

from pynenc import Pynenc
from pynenc.runner import ThreadRunner


def test_handler_returns_while_the_stop_lock_is_held_then_stops() -> None:
    runner = ThreadRunner(Pynenc(app_id="tests-signal-handler"), threads=1)
    with runner._signals():
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        with runner._stop_lock:  # as if the main thread was inside the stop bookkeeping
            caller = threading.Thread(target=handler, args=(signal.SIGTERM, None))
            caller.start()
            caller.join(timeout=5)
            assert not caller.is_alive(), "the handler waited for a lock the main thread holds"
            assert not runner.stopping  # the stop is requested once the lock is free
        deadline = time.monotonic() + 5
        while not runner.stopping:
            assert time.monotonic() < deadline, "the signal never requested a stop"
            time.sleep(0.01)
    assert not runner.stopping_now  # one signal: a graceful stop
