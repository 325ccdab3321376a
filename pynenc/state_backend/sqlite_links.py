"""Composition links (chains, chords, callbacks) in the SQLite state backend.

The rules are :mod:`pynenc.state_backend._links`; this module gives them their store
operations (:class:`SqliteLinkOps`) over the connection of the backend's write transaction
(``BEGIN IMMEDIATE``), so settling what waits for an invocation happens in the very
transaction that writes its final status: atomic across the threads and processes that
share the file, and a chord body's count goes down once per member. Two tables (see
:mod:`pynenc.state_backend.sqlite_schema`):

- ``pynenc_link_waits``: per parent, the WAITING invocations waiting for it, in the order
  they were linked (``seq``, the rowid, only grows);
- ``pynenc_link_counts``: per WAITING invocation, how many it still waits for.

An invocation that nothing waits for costs one indexed lookup (an empty range of
``pynenc_link_waits_by_parent``) when it ends.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from pynenc.records import FINAL, InvocationStatus, Links, StatusEntry, decode_meta
from pynenc.state_backend.sqlite_schema import INSERT_HISTORY

_WAITING_FOR = (
    "SELECT child_id FROM pynenc_link_waits WHERE app_id = ? AND parent_id = ? ORDER BY seq"
)
_MOVE_SCHEDULED = (
    "UPDATE pynenc_invocations SET status = ?, due = ? "
    "WHERE app_id = ? AND invocation_id = ? AND status = 'waiting'"
)
_MOVE_FINAL = (
    "UPDATE pynenc_invocations SET status = ?, error = ?, owner = NULL "
    "WHERE app_id = ? AND invocation_id = ? AND status = 'waiting'"
)


class SqliteLinkOps:
    """The :class:`pynenc.state_backend._links.LinkOps` of one write transaction.

    ``ended`` collects the invocations that settling ended, whose waiters the backend
    wakes once the transaction has committed.
    """

    __slots__ = ("app_id", "conn", "ended")

    def __init__(self, conn: sqlite3.Connection, app_id: str) -> None:
        self.conn = conn
        self.app_id = app_id
        self.ended: list[str] = []

    def take_waiting(self, parent_id: str) -> list[str]:
        key = (self.app_id, parent_id)
        children = [row[0] for row in self.conn.execute(_WAITING_FOR, key).fetchall()]
        if children:  # the lookup alone when nothing waits: the path of a plain call
            self.conn.execute(
                "DELETE FROM pynenc_link_waits WHERE app_id = ? AND parent_id = ?", key
            )
        return children

    def add_waiting(self, parent_id: str, child_id: str) -> None:
        self.conn.execute(
            "INSERT INTO pynenc_link_waits (app_id, parent_id, child_id) VALUES (?, ?, ?)",
            (self.app_id, parent_id, child_id),
        )

    def state(self, invocation_id: str) -> tuple[InvocationStatus, Links | None] | None:
        row = self.conn.execute(
            "SELECT status, meta, links FROM pynenc_invocations "
            "WHERE app_id = ? AND invocation_id = ?",
            (self.app_id, invocation_id),
        ).fetchone()
        if row is None:
            return None
        links: Links | None = decode_meta(row[1], row[2]).get("links")
        return InvocationStatus(row[0]), links

    def error(self, invocation_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT error FROM pynenc_invocations WHERE app_id = ? AND invocation_id = ?",
            (self.app_id, invocation_id),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        error: dict[str, Any] = json.loads(row[0])
        return error

    def set_count(self, invocation_id: str, count: int) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO pynenc_link_counts (app_id, invocation_id, waits) "
            "VALUES (?, ?, ?)",
            (self.app_id, invocation_id, count),
        )

    def count_down(self, invocation_id: str) -> int:
        rows = self.conn.execute(
            "UPDATE pynenc_link_counts SET waits = waits - 1 "
            "WHERE app_id = ? AND invocation_id = ? RETURNING waits",
            (self.app_id, invocation_id),
        ).fetchall()  # all: the statement is done before the transaction goes on
        return 0 if not rows else int(rows[0][0])  # no count: it waited for one

    def move(
        self,
        invocation_id: str,
        entry: StatusEntry,
        error: dict[str, Any] | None,
        due: float | None = None,
    ) -> None:
        where = (self.app_id, invocation_id)
        if entry.status is InvocationStatus.SCHEDULED:  # the partial index follows status
            when = entry.timestamp if due is None else due
            self.conn.execute(_MOVE_SCHEDULED, (entry.status.value, when, *where))
        else:
            text = None if error is None else json.dumps(error)
            self.conn.execute(_MOVE_FINAL, (entry.status.value, text, *where))
        self.forget_count(invocation_id)
        self.conn.execute(
            INSERT_HISTORY, (*where, entry.status.value, entry.timestamp, None, entry.reason)
        )
        if entry.status in FINAL:
            self.ended.append(invocation_id)

    def forget_count(self, invocation_id: str) -> None:
        """Drop the count of an invocation that no longer waits (released, or ended)."""
        self.conn.execute(
            "DELETE FROM pynenc_link_counts WHERE app_id = ? AND invocation_id = ?",
            (self.app_id, invocation_id),
        )
