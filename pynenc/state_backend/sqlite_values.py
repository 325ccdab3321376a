"""The value primitives of the SQLite state backend (``put_value`` and friends).

One table, ``pynenc_values``, keyed by (app, namespace, key). Keys and values are stored as
BLOBs of their UTF-8 bytes (``surrogatepass``: a lone surrogate, which JSON text may hold, is
kept): no escaping, no base64, and large values stay out of the invocation table's pages. Each
operation is one statement, or one transaction, atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pynenc.state_backend.base import check_namespace

if TYPE_CHECKING:
    from pynenc.state_backend.sqlite import SqliteStateBackend

#: Keys per ``IN (...)`` query (older SQLite builds allow 999 parameters).
KEY_CHUNK = 500

TABLE = """CREATE TABLE IF NOT EXISTS pynenc_values (
    app_id TEXT NOT NULL, namespace TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (app_id, namespace, key)
)"""  # a rowid table: WITHOUT ROWID suits small rows, and values may be megabytes


def _encode(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def put_value(
    backend: SqliteStateBackend, namespace: str, key: str, value: str, only_if_absent: bool
) -> bool:
    check_namespace(namespace)
    row = (backend.app_id, namespace, _encode(key), _encode(value))
    if not only_if_absent:
        with backend._connection() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO pynenc_values (app_id, namespace, key, value) "
                "VALUES (?, ?, ?, ?)",
                row,
            )
        return True
    with backend._transaction() as conn:
        inserted = conn.execute(
            "INSERT OR IGNORE INTO pynenc_values (app_id, namespace, key, value) "
            "VALUES (?, ?, ?, ?)",
            row,
        ).rowcount
        if inserted == 1:
            return True
        same = conn.execute(
            "SELECT 1 FROM pynenc_values WHERE app_id = ? AND namespace = ? AND key = ? "
            "AND length(value) = ? AND value = ?",
            (*row[:3], len(row[3]), row[3]),
        ).fetchone()
        return same is not None


def _select(
    backend: SqliteStateBackend, column: str, namespace: str, keys: Sequence[str]
) -> dict[bytes, bytes]:
    """``{encoded key: column}`` of the keys that have a value."""
    check_namespace(namespace)
    found: dict[bytes, bytes] = {}
    unique = list(dict.fromkeys(map(_encode, keys)))
    with backend._connection() as conn:
        for start in range(0, len(unique), KEY_CHUNK):
            chunk = unique[start : start + KEY_CHUNK]
            rows = conn.execute(
                f"SELECT key, {column} FROM pynenc_values WHERE app_id = ? AND namespace = ? "
                f"AND key IN ({', '.join('?' * len(chunk))})",
                (backend.app_id, namespace, *chunk),
            ).fetchall()
            found.update(rows)
    return found


def get_values(
    backend: SqliteStateBackend, namespace: str, keys: Sequence[str]
) -> list[str | None]:
    found = _select(backend, "value", namespace, keys)
    return [None if (raw := found.get(_encode(key))) is None else _decode(raw) for key in keys]


def has_values(backend: SqliteStateBackend, namespace: str, keys: Sequence[str]) -> list[bool]:
    found = _select(backend, "1", namespace, keys)
    return [_encode(key) in found for key in keys]


def delete_value(
    backend: SqliteStateBackend, namespace: str, key: str, expected: str | None
) -> bool:
    check_namespace(namespace)
    compared = None if expected is None else _encode(expected)
    with backend._connection() as conn:
        cursor = conn.execute(
            "DELETE FROM pynenc_values WHERE app_id = ? AND namespace = ? AND key = ? "
            "AND (? IS NULL OR value = ?)",
            (backend.app_id, namespace, _encode(key), compared, compared),
        )
        return cursor.rowcount == 1
