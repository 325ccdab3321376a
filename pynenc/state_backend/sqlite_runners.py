"""The runner primitives of the SQLite state backend: heartbeats, runner info and leases.

``pynenc_runners`` (last heartbeat per runner), ``pynenc_runner_info`` (what a runner says of
itself, as JSON) and the lease table of ``ACQUIRE_LEASE``. Each operation is one statement,
or one transaction, atomic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynenc.state_backend.sqlite_schema import ACQUIRE_LEASE

if TYPE_CHECKING:
    from pynenc.state_backend.sqlite import SqliteStateBackend


def heartbeat(backend: SqliteStateBackend, runner_id: str, timestamp: float) -> None:
    with backend._connection() as conn:
        conn.execute(
            "INSERT INTO pynenc_runners (app_id, runner_id, last_seen) VALUES (?, ?, ?) "
            "ON CONFLICT (app_id, runner_id) DO UPDATE SET last_seen = excluded.last_seen",
            (backend.app_id, runner_id, timestamp),
        )


def runners(backend: SqliteStateBackend) -> dict[str, float]:
    with backend._connection() as conn:
        rows = conn.execute(
            "SELECT runner_id, last_seen FROM pynenc_runners WHERE app_id = ?",
            (backend.app_id,),
        ).fetchall()
    return dict(rows)


def forget_runner(backend: SqliteStateBackend, runner_id: str) -> None:
    with backend._transaction() as conn:
        for table in ("pynenc_runners", "pynenc_runner_info"):
            conn.execute(
                f"DELETE FROM {table} WHERE app_id = ? AND runner_id = ?",
                (backend.app_id, runner_id),
            )


def set_runner_info(backend: SqliteStateBackend, runner_id: str, info: Mapping[str, Any]) -> None:
    with backend._connection() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO pynenc_runner_info (app_id, runner_id, info) VALUES (?, ?, ?)",
            (backend.app_id, runner_id, json.dumps(dict(info))),
        )


def runner_infos(backend: SqliteStateBackend) -> dict[str, dict[str, Any]]:
    with backend._connection() as conn:
        rows = conn.execute(
            "SELECT runner_id, info FROM pynenc_runner_info WHERE app_id = ?",
            (backend.app_id,),
        ).fetchall()
    return {runner_id: json.loads(info) for runner_id, info in rows}


def acquire_lease(
    backend: SqliteStateBackend, name: str, holder: str, ttl: float, now: float
) -> bool:
    with backend._connection() as conn:  # one statement: atomic without BEGIN
        cursor = conn.execute(ACQUIRE_LEASE, (backend.app_id, name, holder, now + ttl, now))
        return cursor.rowcount == 1
