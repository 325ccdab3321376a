"""Stop signals in runners made of several processes.

Ctrl-C in a terminal and systemd's default ``KillMode=control-group`` signal every process
of the group at once: the runner and its worker processes (and a ProcessRunner's forkserver
and children). If workers acted on that signal themselves, each would see two stop requests
(the signal, then the parent's own stop) and skip the grace period. So the parent alone
decides: workers ignore SIGTERM and SIGINT and follow their parent's instructions, sent
over a pipe (:data:`STOP`, :data:`STOP_NOW`; the pipe closing means the parent is gone).

A worker is started with the stop signals blocked, inherited through fork and exec, so a
signal arriving while it starts is held back until it ignores them (then discarded).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})

#: Parent to worker: stop gracefully (running work gets ``runner.stop_grace``).
STOP = b"stop"
#: Parent to worker: stop now (running work is rerouted at once).
STOP_NOW = b"stop-now"


@contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Block SIGTERM/SIGINT in this thread while processes are started from it.

    They are held pending, not lost: the thread gets them once unblocked. Where signal
    masks do not exist (Windows), nothing is blocked.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_stop_signals() -> None:
    """In a worker process: ignore SIGTERM/SIGINT (the parent decides when it stops)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    # a signal held back while the process started is discarded now: it is ignored
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
