"""The message store under the ``sqlite://`` transport: queues as rows of one SQLite table.

Every operation is a single SQL statement in autocommit mode (or one explicit transaction
for a batch of inserts), so it is atomic across the threads and processes that share the
database file. The file runs in WAL mode: readers never block the writer, and a commit is
one append to the log (``synchronous=NORMAL`` by default: durable across a crash of any
process, not across a power cut — the usual trade of a local broker).

A consumer takes a message by marking it delivered to its *owner* token; an ack deletes
the row, a requeue clears the mark. Rows left delivered by an owner that is gone are made
ready again by :meth:`MessageStore.restore`: at once when the owner was a process of this
host that no longer exists, after ``visibility_timeout`` otherwise (a hung process, or a
host sharing the file over a mount).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence

from pynenc.sqlite_busy import retry_busy
from pynenc.sqlite_checkpoint import offload as offload_checkpoints

SCHEMA = """
CREATE TABLE IF NOT EXISTS pynenc_messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    payload TEXT NOT NULL,
    delivered_at REAL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS pynenc_messages_ready
    ON pynenc_messages (queue, priority DESC, id) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS pynenc_messages_owner
    ON pynenc_messages (owner) WHERE owner IS NOT NULL;
"""

HOST = socket.gethostname()

#: (row id, queue, payload) of a taken message.
Row = tuple[int, str, str]


def new_owner() -> str:
    """A token naming one consumer: host and pid (to detect a dead owner) and a nonce."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_dead(owner: str) -> bool:
    """``True`` only when ``owner`` was a process of this host that no longer exists."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != HOST or not parts[1].isdigit():
        return False  # another host (or an odd token): only the visibility timeout applies
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


def _take_sql(queues: int, set_clause: str) -> str:
    # One index seek per queue (each sub-select reads the head of its queue), then the best
    # of those heads: cheaper than one ORDER BY over every ready row of all the queues.
    heads = " UNION ALL ".join(
        "SELECT * FROM (SELECT id, priority FROM pynenc_messages WHERE queue = ? "
        "AND delivered_at IS NULL ORDER BY priority DESC, id LIMIT 1)"
        for _ in range(queues)
    )
    pick = f"SELECT id FROM ({heads}) ORDER BY priority DESC, id LIMIT 1"
    return f"{set_clause} WHERE id = ({pick}) RETURNING id, queue, payload"


class MessageStore:
    """One connection to a message database; safe to share between threads."""

    def __init__(self, path: str, busy_timeout: float = 30.0, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._lock = threading.Lock()
        # busy timeout 0: every statement waits for a busy file in short steps (_execute)
        self._db = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        self._busy_timeout = busy_timeout
        self._execute("PRAGMA journal_mode=WAL")
        self._execute(f"PRAGMA synchronous={synchronous}")
        offload_checkpoints(self._db, path, self)
        retry_busy(lambda: self._db.executescript(SCHEMA), busy_timeout)
        self._sql: dict[tuple[int, bool], str] = {}
        # Commits of this connection don't move its own data_version: count the ones that
        # make messages ready, so a consumer sharing the connection still sees them.
        self._own_writes = 0

    def _execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        """One statement, tried again in short steps while another connection writes."""
        return retry_busy(lambda: self._db.execute(sql, params), self._busy_timeout)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def version(self) -> tuple[int, int]:
        """Changes whenever messages may have become ready: a cheap "anything new?" check.

        ``PRAGMA data_version`` reads the WAL index only (no lock, no table access).
        """
        with self._lock:
            return int(self._execute("PRAGMA data_version").fetchone()[0]), self._own_writes

    # -- publishing ----------------------------------------------------------------------

    def put(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """Insert ``(queue, priority, payload)`` rows, all in one transaction."""
        with self._lock:
            self._own_writes += 1
            if len(rows) == 1:
                self._execute(
                    "INSERT INTO pynenc_messages (queue, priority, payload) VALUES (?, ?, ?)",
                    rows[0],
                )
                return
            self._execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(  # the write lock is held: never busy
                    "INSERT INTO pynenc_messages (queue, priority, payload) VALUES (?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._execute("ROLLBACK")
                raise
            self._execute("COMMIT")

    # -- consuming -----------------------------------------------------------------------

    def take(self, queues: Sequence[str], owner: str | None) -> Row | None:
        """The next ready message of ``queues`` (highest priority, then oldest).

        With an ``owner`` the row is kept, marked delivered, until :meth:`ack`; without one
        it is deleted at once (no redelivery if the consumer dies before acking).
        """
        key = (len(queues), owner is None)
        sql = self._sql.get(key)
        if sql is None:
            set_clause = (
                "DELETE FROM pynenc_messages"
                if owner is None
                else "UPDATE pynenc_messages SET delivered_at = ?, owner = ?"
            )
            sql = self._sql[key] = _take_sql(len(queues), set_clause)
        params: tuple[object, ...] = tuple(queues)
        if owner is not None:
            params = (time.time(), owner, *params)
        with self._lock:
            found = self._execute(sql, params).fetchall()
        return (int(found[0][0]), str(found[0][1]), str(found[0][2])) if found else None

    def ack(self, row_id: int, owner: str) -> None:
        """Delete a delivered row, if ``owner`` still holds it."""
        with self._lock:
            self._execute("DELETE FROM pynenc_messages WHERE id = ? AND owner = ?", (row_id, owner))

    def requeue(self, row_ids: Iterable[int], owner: str) -> int:
        """Make rows ``owner`` holds ready again, in their old place; returns how many."""
        ids = list(row_ids)
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        with self._lock:
            self._own_writes += 1
            return self._execute(
                "UPDATE pynenc_messages SET delivered_at = NULL, owner = NULL "
                f"WHERE owner = ? AND id IN ({marks})",
                (owner, *ids),
            ).rowcount

    def release_owner(self, owner: str) -> int:
        """Make every row ``owner`` holds ready again (its consumer closed)."""
        with self._lock:
            self._own_writes += 1
            return self._execute(
                "UPDATE pynenc_messages SET delivered_at = NULL, owner = NULL WHERE owner = ?",
                (owner,),
            ).rowcount

    def restore(self, visibility_timeout: float) -> int:
        """Make ready the rows of dead owners and those delivered too long ago."""
        with self._lock:
            owners = [
                str(row[0])
                for row in self._execute(
                    "SELECT DISTINCT owner FROM pynenc_messages WHERE owner IS NOT NULL"
                )
            ]
            dead = [owner for owner in owners if owner_is_dead(owner)]
            self._own_writes += 1
            restored = 0
            if dead:
                marks = ",".join("?" * len(dead))
                restored += self._execute(
                    "UPDATE pynenc_messages SET delivered_at = NULL, owner = NULL "
                    f"WHERE owner IN ({marks})",
                    dead,
                ).rowcount
            if owners:
                restored += self._execute(
                    "UPDATE pynenc_messages SET delivered_at = NULL, owner = NULL "
                    "WHERE delivered_at < ?",
                    (time.time() - visibility_timeout,),
                ).rowcount
            return restored

    # -- queue management ----------------------------------------------------------------

    def size(self, queue: str) -> int:
        """Ready messages of ``queue``."""
        with self._lock:
            row = self._execute(
                "SELECT COUNT(*) FROM pynenc_messages WHERE queue = ? AND delivered_at IS NULL",
                (queue,),
            ).fetchone()
        return int(row[0])

    def purge(self, queue: str) -> int:
        """Delete the ready messages of ``queue`` (delivered ones stay with their owner)."""
        with self._lock:
            return self._execute(
                "DELETE FROM pynenc_messages WHERE queue = ? AND delivered_at IS NULL", (queue,)
            ).rowcount

    def delete(self, queue: str) -> None:
        with self._lock:
            self._execute("DELETE FROM pynenc_messages WHERE queue = ?", (queue,))
