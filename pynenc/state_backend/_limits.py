"""The arithmetic of the rate-limit primitive, shared by the backends that run Python in
their atomic step (memory, SQLite); Redis runs the same steps in Lua (``redis_limits``).

A rate key keeps two times and the reservations of waiting invocations:

- ``next_start``: the earliest moment the next start may happen — one ``interval`` after
  the last start granted. Every start is checked against it *when it happens*, so two
  starts are never closer than ``interval``, however late their takers come back;
- ``next_slot``: the end of the schedule of reservations. A taker that cannot start now
  is given the next free time of that schedule, so waiting invocations come back one
  ``interval`` apart instead of all at once. A reservation only says when to come back:
  a holder back on time but right after a late one waits the few ms left.
"""

from __future__ import annotations

from typing import NamedTuple


class RateTake(NamedTuple):
    """What one take decides and what to store."""

    wait: float  #: ``0.0``: start now; else seconds until the holder may ask again
    next_start: float | None  #: the new earliest next start (``None``: unchanged)
    next_slot: float | None  #: the new end of the schedule (``None``: unchanged)
    reserve: float | None  #: a reservation to store for the holder (``None``: none new)
    consume: bool  #: the holder's reservation is used up: drop it


def rate_take(
    next_start: float | None,
    next_slot: float | None,
    mine: float | None,
    now: float,
    interval: float,
) -> RateTake:
    """One take by a holder whose reservation is ``mine`` (``None``: it has none)."""
    earliest = now if next_start is None else next_start
    if mine is not None:
        if mine > now:
            return RateTake(mine - now, None, None, None, False)
        if now < earliest:  # its time came, but a late start happened just before
            return RateTake(earliest - now, None, None, None, False)
        return RateTake(0.0, now + interval, None, None, True)
    slot = max(now, earliest, now if next_slot is None else next_slot)
    if slot <= now:
        return RateTake(0.0, now + interval, now + interval, None, False)
    return RateTake(slot - now, None, slot + interval, slot, False)
