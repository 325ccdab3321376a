"""What one attempt of an invocation ended with: the value a runner records and hooks see.

A leaf module (it imports only :mod:`pynenc.records`): the runner's execution steps build
an :class:`Outcome`, the orchestrator records it, and ``run_end`` hooks receive it — on a
runner and in dev sync mode alike.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pynenc.records import InvocationStatus


class Outcome(NamedTuple):
    """How an attempt ended (a tuple: built once per attempt, on the hot path).

    ``status`` is ``SUCCESS``, ``FAILED`` or ``RETRY``. On a runner, ``result`` is the
    return value as the serializer encoded it (SUCCESS) and ``error`` the exception as
    stored (FAILED, RETRY); in dev sync mode nothing is serialized and both are ``None``:
    read ``value`` and ``exception``, which are set in both modes.
    """

    status: InvocationStatus
    #: the return value, encoded (SUCCESS on a runner; else ``None``)
    result: str | None = None
    #: the exception, as stored in the state backend (FAILED, RETRY on a runner)
    error: dict[str, Any] | None = None
    #: the exception raised (FAILED, RETRY); a ``SystemExit``/``KeyboardInterrupt`` too:
    #: it is recorded, then raised again
    exception: BaseException | None = None
    #: what the function returned (SUCCESS)
    value: Any = None
    #: seconds the attempt took (the function and the encoding of its result)
    duration: float = 0.0

    @property
    def interrupted(self) -> bool:
        """The attempt ended by a ``BaseException`` that is not an ``Exception``
        (``SystemExit``, ``KeyboardInterrupt``): the runner records it, then lets it go."""
        return self.exception is not None and not isinstance(self.exception, Exception)
