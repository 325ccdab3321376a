"""The arithmetic of the rate-limit primitive, shared by the backends that run Python in
their atomic step (memory, SQLite); Redis runs the same steps in Lua."""

from __future__ import annotations

from typing import NamedTuple


class RateStep(NamedTuple):
    """The outcome of one take: when the start is, and the key's new arrival time."""

    start: float  #: when the start may happen (``<= now``: at once)
    tat: float  #: the key's theoretical arrival time after this take


def gcra_take(tat: float | None, now: float, interval: float, burst: int) -> RateStep:
    """One take of a generic cell rate algorithm: starts are spaced ``interval`` apart,
    ``burst`` of them may happen at once. A take always advances the arrival time: a
    start not due yet is reserved for the taker."""
    current = now if tat is None or tat < now else tat
    return RateStep(current - (burst - 1) * interval, current + interval)
