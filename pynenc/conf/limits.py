"""Time-limit options of a task: ``timeout`` (hard) and ``soft_timeout``, in seconds.

Parsed here (a positive number, or none) and checked together: a soft limit at or past the
hard one would never be seen by the task, so it is refused with an error naming both.
"""

from __future__ import annotations

import math
from typing import Any

from pynenc.conf.option import InvalidValue, number
from pynenc.exceptions import LONGEST_DELAY, ConfigError

#: The expected form, for error messages.
SECONDS_OR_NONE = "a number of seconds > 0 (at most 100 years), or None (no limit)"

_seconds = number(0)


def seconds_or_none(raw: Any) -> float | None:
    """``None`` (no limit; ``none``/``null`` or empty in text), or seconds > 0, at most
    :data:`~pynenc.exceptions.LONGEST_DELAY` (a longer limit overflows the timers that
    enforce it: a process runner's child would die at each start)."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null")):
        return None
    value = _seconds(raw)
    if value <= 0 or math.isinf(value) or value > LONGEST_DELAY:
        raise InvalidValue()
    return value


def check_time_limits(task_id: str, timeout: float | None, soft_timeout: float | None) -> None:
    """Refuse a ``soft_timeout`` that is not shorter than ``timeout``.

    :raises ConfigError: naming the task and both values.
    """
    if timeout is not None and soft_timeout is not None and soft_timeout >= timeout:
        raise ConfigError(
            f"Task {task_id}: soft_timeout ({soft_timeout:g} s) must be shorter than timeout "
            f"({timeout:g} s): the soft limit warns the task (SoftTimeoutExceeded) so that it "
            "can clean up before the hard limit stops it. Lower soft_timeout, raise timeout, "
            "or leave one of them unset."
        )
