"""The soft time limit raised inside a task by a signal, in a process's main thread.

A ``ProcessRunner`` child runs one invocation in its main thread, and so does a pool
worker process with one slot (:mod:`pynenc.runner.main_thread`), so SIGALRM can raise
:class:`~pynenc.exceptions.SoftTimeoutExceeded` right inside the task's code, even while it
sleeps or waits on I/O (the call is interrupted). The handler raises only while the task's
own function is on the stack — never in pynenc's code before or after it (decoding the
arguments, recording the outcome), nor in runner bookkeeping the task calls into (the
``shielded`` code: lending its slot while it waits for another invocation). Caught
there, it tries again shortly; once the body has returned, it does nothing.

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
def soft_limit_signal(
    attempt: Attempt, func: Any, shielded: frozenset[CodeType] = frozenset()
) -> Iterator[None]:
    """While the block runs: raise the soft limit of ``attempt`` in ``func``'s body by
    SIGALRM, unless code of ``shielded`` runs at that moment (then shortly after). Does
    nothing without a soft limit, outside the main thread, or where SIGALRM does not
    exist."""
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
        if _in_body(frame, body, shielded):
            raise attempt.soft_exceeded()
        signal.setitimer(signal.ITIMER_REAL, RETRY_DELAY)

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, attempt.soft_timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_body(frame: FrameType | None, body: set[CodeType], shielded: frozenset[CodeType]) -> bool:
    """Whether ``frame`` runs inside the body, and not in shielded code the body called."""
    while frame is not None:
        code = frame.f_code
        if code in body:
            return True
        if code in shielded:
            return False
        frame = frame.f_back
    return False
