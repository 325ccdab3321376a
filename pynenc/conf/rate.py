"""The ``rate_limit`` task option: how many starts of a task are allowed per period.

Written ``"10/s"``, ``"100/m"`` or ``"5/h"`` (a count, a slash, a unit), or a bare number
meaning per second, as Celery reads its ``rate_limit``. The count may be fractional
(``"0.5/s"``: one start every two seconds). ``None`` means no limit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pynenc.conf.option import InvalidValue

#: Seconds in each unit a rate may be written in.
UNITS: dict[str, float] = {"s": 1.0, "m": 60.0, "h": 3600.0}

_RATE = re.compile(r"\s*(?P<count>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?:/\s*(?P<unit>\w+))?\s*")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``count`` starts per ``period`` seconds, spread evenly: one every :attr:`interval`."""

    count: float
    period: float

    @property
    def interval(self) -> float:
        """Seconds between two starts (the emission interval of the limit)."""
        return self.period / self.count

    def __str__(self) -> str:
        unit = {seconds: name for name, seconds in UNITS.items()}.get(self.period)
        count = f"{self.count:g}"
        return f"{count}/{unit}" if unit else f"{count} per {self.period:g} s"


def rate_limit(raw: Any) -> RateLimit | None:
    """Parse a ``rate_limit`` value: a :class:`RateLimit`, ``None`` (or ``none``/``null``
    in text), a positive number (per second) or ``"<count>/<s|m|h>"``."""
    if raw is None or isinstance(raw, RateLimit):
        return raw
    if isinstance(raw, bool):
        raise InvalidValue("a boolean is not a rate")
    if isinstance(raw, int | float):
        return _checked(float(raw), 1.0, repr(raw))
    if not isinstance(raw, str):
        raise InvalidValue(f"a {type(raw).__name__} is not a rate")
    if raw.strip().lower() in ("none", "null"):
        return None
    match = _RATE.fullmatch(raw)
    if match is None:
        raise InvalidValue("write it as '<count>/<unit>' with unit s, m or h, e.g. '10/s'")
    unit = (match["unit"] or "s").lower()
    if unit not in UNITS:
        raise InvalidValue(f"unknown unit {match['unit']!r}: use s (second), m (minute), h (hour)")
    return _checked(float(match["count"]), UNITS[unit], raw)


def _checked(count: float, period: float, raw: str) -> RateLimit:
    if not math.isfinite(count) or count <= 0:
        raise InvalidValue(
            f"{raw} allows no start at all; give a positive count, or None for no limit"
        )
    return RateLimit(count, period)
