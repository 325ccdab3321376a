"""Timeouts as waits understand them (a leaf: invocations and the orchestrator share it)."""

from __future__ import annotations

import math


def checked_timeout(timeout: float | None, where: str = "get_result") -> float | None:
    """``timeout`` as a wait understands it: seconds >= 0, or ``None`` to wait for ever
    (``inf`` too). A NaN would never expire and a negative one is a bug: both raise.

    :raises ValueError: naming the argument, its value and the valid forms.
    """
    if timeout is None:
        return None
    number = isinstance(timeout, int | float) and not isinstance(timeout, bool)
    if not number or math.isnan(timeout) or timeout < 0:
        raise ValueError(
            f"{where}(timeout={timeout!r}): timeout must be a number of seconds >= 0, or "
            "None (or math.inf) to wait for ever"
        )
    return None if math.isinf(timeout) else float(timeout)
