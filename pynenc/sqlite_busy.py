"""Waiting for a busy SQLite file in short steps instead of SQLite's own.

When another connection holds the write lock, SQLite's busy handler (a connection's
``timeout``) sleeps 1 ms, then 2, 5, 10 ms and more between attempts. Writes to pynenc's
files last tens of µs, so the first sleep alone is tens of times the wait it covers: a
caller and a runner writing the same file at once lost a millisecond on most collisions,
and a few collisions in a row made the tail of a round trip. Here a statement that finds
the file busy is tried again after 50 µs, doubling up to 2 ms, until the same deadline.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: SQLite's primary result code for "the file is locked by another connection".
SQLITE_BUSY = 5
FIRST_PAUSE = 0.00005
LONGEST_PAUSE = 0.002


def is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY


def retry_busy(operation: Callable[[], T], timeout: float) -> T:
    """``operation`` (one statement, on a connection whose own busy timeout is 0), tried
    again while the file is busy, for up to ``timeout`` seconds; then its error."""
    deadline: float | None = None
    pause = FIRST_PAUSE
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + timeout
            elif now >= deadline:
                raise
            time.sleep(min(pause, deadline - now))
            pause = min(pause * 2, LONGEST_PAUSE)


def begin_immediate(conn: sqlite3.Connection, timeout: float) -> None:
    """``BEGIN IMMEDIATE`` on ``conn``, waiting for the write lock in short steps; the
    connection's own busy timeout (``timeout``) applies again once it returns."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"), timeout)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
