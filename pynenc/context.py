"""Per-thread execution context: the running invocation and the runner's wait hook.

Runners set these in their worker threads; code that waits for a result (``.result``)
reads the hook so the runner can lend the waiting slot to other work.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pynenc.invocation.base import BaseInvocation

#: The invocation whose function is running in this thread (``None`` outside tasks).
current_invocation: ContextVar[BaseInvocation[Any, Any] | None] = ContextVar(
    "pynenc_current_invocation", default=None
)

#: Set by a runner in its worker threads: wraps a blocking wait for another invocation.
blocking_wait: ContextVar[Callable[[], AbstractContextManager[None]] | None] = ContextVar(
    "pynenc_blocking_wait", default=None
)
