"""The log primitives of the SQLite state backend (``append_log``, ``read_log``).

One table, ``pynenc_logs``, keyed by (app, stream, seq). An append is one write
transaction: the next sequence number is one more than the stream's last (kept in
``pynenc_log_heads``, so numbers are never reused once old entries are dropped, nor after
a purge, which leaves that table alone), and the entries beyond ``max_len`` go in the same
step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynenc.state_backend.base import check_log, check_namespace

if TYPE_CHECKING:
    from pynenc.state_backend.sqlite import SqliteStateBackend

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pynenc_logs (
        app_id TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL, value BLOB NOT NULL,
        PRIMARY KEY (app_id, stream, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS pynenc_log_heads (
        app_id TEXT NOT NULL, stream TEXT NOT NULL, last INTEGER NOT NULL,
        PRIMARY KEY (app_id, stream)
    ) WITHOUT ROWID""",
)
TABLES = ("pynenc_logs", "pynenc_log_heads")
#: what ``purge`` leaves: the last number of each stream, so numbers are never reused
KEPT_BY_PURGE = frozenset({"pynenc_log_heads"})


def append_log(backend: SqliteStateBackend, stream: str, value: str, max_len: int) -> int:
    check_log(stream, max_len)
    app = backend.app_id
    with backend._transaction() as conn:
        row = conn.execute(
            "SELECT last FROM pynenc_log_heads WHERE app_id = ? AND stream = ?", (app, stream)
        ).fetchone()
        seq = 1 if row is None else int(row[0]) + 1
        conn.execute(
            "INSERT OR REPLACE INTO pynenc_log_heads (app_id, stream, last) VALUES (?, ?, ?)",
            (app, stream, seq),
        )
        conn.execute(
            "INSERT INTO pynenc_logs (app_id, stream, seq, value) VALUES (?, ?, ?, ?)",
            (app, stream, seq, value.encode("utf-8", "surrogatepass")),
        )
        conn.execute(
            "DELETE FROM pynenc_logs WHERE app_id = ? AND stream = ? AND seq <= ?",
            (app, stream, seq - max_len),
        )
    return seq


def read_log(
    backend: SqliteStateBackend, stream: str, after: int, limit: int
) -> list[tuple[int, str]]:
    check_namespace(stream)
    if limit <= 0:
        return []
    with backend._connection() as conn:
        rows = conn.execute(
            "SELECT seq, value FROM pynenc_logs WHERE app_id = ? AND stream = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (backend.app_id, stream, after, limit),
        ).fetchall()
    return [(int(seq), bytes(raw).decode("utf-8", "surrogatepass")) for seq, raw in rows]
