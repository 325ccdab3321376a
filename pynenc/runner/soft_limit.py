"""The soft time limit raised inside a task by a signal, in a process's main thread.

A ``ProcessRunner`` child runs one invocation in its main thread, so SIGALRM can raise
:class:`~pynenc.exceptions.SoftTimeoutExceeded` right inside the task's code, even while it
sleeps or waits on I/O (the call is interrupted). The handler raises only while the task's
own function is on the stack — never in pynenc's code before or after it (decoding the
arguments, recording the outcome). Caught there, it tries again shortly; once the body
has returned, it does nothing.

An ``async def`` task runs in an event loop: the exception may land in the loop itself,
which then cancels the task's coroutine (its ``finally`` blocks and ``except
CancelledError`` run) and ends the invocation with ``SoftTimeoutExceeded``.

Threads cannot be interrupted this way; there the soft limit is cooperative
(``invocation.checkpoint()``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

from pynenc.invocation.sync import run_coroutine

if TYPE_CHECKING:
    from pynenc.attempt import Attempt

#: Seconds before trying again when the signal found the task outside its own code.
RETRY_DELAY = 0.01


@contextmanager
def soft_limit_signal(attempt: Attempt, func: Any) -> Iterator[None]:
    """While the block runs: raise the soft limit of ``attempt`` in ``func``'s body by
    SIGALRM. Does nothing without a soft limit, outside the main thread, or where SIGALRM
    does not exist."""
    if (
        attempt.soft_timeout is None
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    body = {code for code in (getattr(func, "__code__", None), run_coroutine.__code__) if code}

    def handler(signum: int, frame: FrameType | None) -> None:
        if attempt.settled or attempt.soft_raised:
            return  # the body returned, or saw the limit at a checkpoint already
        if _inside(frame, body):
            raise attempt.soft_exceeded()
        signal.setitimer(signal.ITIMER_REAL, RETRY_DELAY)

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, attempt.soft_timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _inside(frame: FrameType | None, codes: set[CodeType]) -> bool:
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False
