"""Concurrency control and rate limits for the SQLite state backend.

Each primitive runs in the backend's write transaction (``BEGIN IMMEDIATE``), so it is
atomic across the threads and processes sharing the file. Three tables:

- ``pynenc_registration_keys``: registration key -> the invocation last registered under it;
- ``pynenc_slots``: per slot key, its holders (``waiting = 0``) and its waiters
  (``waiting = 1``), the waiters in arrival order (``seq``, the rowid, only grows);
- ``pynenc_rates``: per rate key, its two times (see ``_limits``);
  ``pynenc_rate_reservations``: the starts reserved for waiting invocations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.state_backend._limits import rate_take
from pynenc.state_backend.base import RATE_RESERVATION_GRACE

if TYPE_CHECKING:
    from pynenc.state_backend.sqlite import SqliteStateBackend

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pynenc_registration_keys (
        app_id TEXT NOT NULL, reg_key TEXT NOT NULL, invocation_id TEXT NOT NULL,
        PRIMARY KEY (app_id, reg_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS pynenc_slots (
        seq INTEGER PRIMARY KEY, app_id TEXT NOT NULL, slot_key TEXT NOT NULL,
        holder TEXT NOT NULL, waiting INTEGER NOT NULL
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS pynenc_slots_by_key
        ON pynenc_slots (app_id, slot_key, holder)""",
    """CREATE TABLE IF NOT EXISTS pynenc_rates (
        app_id TEXT NOT NULL, rate_key TEXT NOT NULL, next_start REAL, next_slot REAL,
        PRIMARY KEY (app_id, rate_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS pynenc_rate_reservations (
        app_id TEXT NOT NULL, rate_key TEXT NOT NULL, holder TEXT NOT NULL, at REAL NOT NULL,
        PRIMARY KEY (app_id, rate_key, holder)
    ) WITHOUT ROWID""",
)
TABLES = (
    "pynenc_registration_keys",
    "pynenc_slots",
    "pynenc_rates",
    "pynenc_rate_reservations",
)


def _marks(statuses: frozenset[InvocationStatus]) -> tuple[str, list[str]]:
    values = sorted(status.value for status in statuses)
    return ", ".join("?" * len(values)) or "NULL", values


def register_exclusive(
    backend: SqliteStateBackend,
    conn: sqlite3.Connection,
    records: Sequence[InvocationRecord],
    keys: Sequence[str | None],
    entry_time: float,
    held_while: frozenset[InvocationStatus],
) -> list[str | None]:
    app = backend.app_id
    marks, statuses = _marks(held_while)
    find_holder = (
        "SELECT k.invocation_id FROM pynenc_registration_keys k JOIN pynenc_invocations i "
        "ON i.app_id = k.app_id AND i.invocation_id = k.invocation_id "
        f"WHERE k.app_id = ? AND k.reg_key = ? AND i.status IN ({marks})"
    )
    holders: list[str | None] = []
    for record, key in zip(records, keys, strict=True):
        if conn.execute(
            "SELECT 1 FROM pynenc_invocations WHERE app_id = ? AND invocation_id = ?",
            (app, record.invocation_id),
        ).fetchone():  # a caller-chosen id seen before: left as it is, its key untouched
            holders.append(record.invocation_id)
            continue
        if key is not None:
            row = conn.execute(find_holder, (app, key, *statuses)).fetchone()
            if row is not None:
                holders.append(row[0])
                continue
        backend._insert(conn, [record], entry_time)
        if key is not None:
            conn.execute(
                "INSERT OR REPLACE INTO pynenc_registration_keys (app_id, reg_key, invocation_id) "
                "VALUES (?, ?, ?)",
                (app, key, record.invocation_id),
            )
        holders.append(None)
    return holders


def acquire_slot(
    conn: sqlite3.Connection,
    app: str,
    key: str,
    holder: str,
    limit: int,
    held_while: frozenset[InvocationStatus],
    enqueue: bool,
) -> bool:
    row = conn.execute(
        "SELECT waiting FROM pynenc_slots WHERE app_id = ? AND slot_key = ? AND holder = ?",
        (app, key, holder),
    ).fetchone()
    if row is not None and row[0] == 0:
        return True
    marks, statuses = _marks(held_while)
    # holders whose invocation is gone or no longer in a holding status do not count
    conn.execute(
        "DELETE FROM pynenc_slots WHERE app_id = ? AND slot_key = ? AND waiting = 0 "
        "AND NOT EXISTS (SELECT 1 FROM pynenc_invocations i WHERE i.app_id = ? "
        f"AND i.invocation_id = pynenc_slots.holder AND i.status IN ({marks}))",
        (app, key, app, *statuses),
    )
    (held,) = conn.execute(
        "SELECT count(*) FROM pynenc_slots WHERE app_id = ? AND slot_key = ? AND waiting = 0",
        (app, key),
    ).fetchone()
    if held >= limit:
        if enqueue and row is None:
            conn.execute(
                "INSERT INTO pynenc_slots (app_id, slot_key, holder, waiting) VALUES (?, ?, ?, 1)",
                (app, key, holder),
            )
        return False
    conn.execute(
        "INSERT INTO pynenc_slots (app_id, slot_key, holder, waiting) VALUES (?, ?, ?, 0) "
        "ON CONFLICT (app_id, slot_key, holder) DO UPDATE SET waiting = 0",
        (app, key, holder),
    )
    return True


def release_slot(conn: sqlite3.Connection, app: str, key: str, holder: str) -> str | None:
    row = conn.execute(
        "SELECT waiting FROM pynenc_slots WHERE app_id = ? AND slot_key = ? AND holder = ?",
        (app, key, holder),
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        "DELETE FROM pynenc_slots WHERE app_id = ? AND slot_key = ? AND holder = ?",
        (app, key, holder),
    )
    if row[0] != 0:
        return None  # it was only waiting: no slot was given back
    first = conn.execute(
        "SELECT seq, holder FROM pynenc_slots WHERE app_id = ? AND slot_key = ? AND waiting = 1 "
        "ORDER BY seq LIMIT 1",
        (app, key),
    ).fetchone()
    if first is None:
        return None
    conn.execute("DELETE FROM pynenc_slots WHERE seq = ?", (first[0],))
    return str(first[1])


def slot_holders(conn: sqlite3.Connection, app: str, key: str) -> list[str]:
    rows = conn.execute(
        "SELECT holder FROM pynenc_slots WHERE app_id = ? AND slot_key = ? AND waiting = 0 "
        "ORDER BY holder",
        (app, key),
    ).fetchall()
    return [row[0] for row in rows]


def take_rate(
    conn: sqlite3.Connection, app: str, key: str, holder: str, interval: float, now: float
) -> float:
    conn.execute(
        "DELETE FROM pynenc_rate_reservations WHERE app_id = ? AND rate_key = ? AND at < ?",
        (app, key, now - RATE_RESERVATION_GRACE),
    )
    times = conn.execute(
        "SELECT next_start, next_slot FROM pynenc_rates WHERE app_id = ? AND rate_key = ?",
        (app, key),
    ).fetchone()
    next_start, next_slot = times if times is not None else (None, None)
    mine = conn.execute(
        "SELECT at FROM pynenc_rate_reservations WHERE app_id = ? AND rate_key = ? AND holder = ?",
        (app, key, holder),
    ).fetchone()
    take = rate_take(next_start, next_slot, None if mine is None else mine[0], now, interval)
    if take.next_start is not None or take.next_slot is not None:
        conn.execute(
            "INSERT INTO pynenc_rates (app_id, rate_key, next_start, next_slot) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (app_id, rate_key) DO UPDATE SET "
            "next_start = excluded.next_start, next_slot = excluded.next_slot",
            (
                app,
                key,
                next_start if take.next_start is None else take.next_start,
                next_slot if take.next_slot is None else take.next_slot,
            ),
        )
    if take.consume:
        conn.execute(
            "DELETE FROM pynenc_rate_reservations WHERE app_id = ? AND rate_key = ? AND holder = ?",
            (app, key, holder),
        )
    if take.reserve is not None:
        conn.execute(
            "INSERT OR REPLACE INTO pynenc_rate_reservations (app_id, rate_key, holder, at) "
            "VALUES (?, ?, ?, ?)",
            (app, key, holder, take.reserve),
        )
    return take.wait
