"""``recent`` for the SQLite state backend: invocations newest first, filtered, bounded.

Registering (re)inserts an invocation's row, so rowid order is registration order, and the
registration time is the invocation's first history entry. A task or status filter that
matches few rows (counted on its index) is served from that index and sorted; otherwise the
query walks the rowids backwards and stops after ``limit`` matching rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pynenc.records import InvocationStatus, InvocationSummary

if TYPE_CHECKING:
    from pynenc.state_backend.sqlite import SqliteStateBackend

#: ``recent`` sorts the matches of a task/status filter when there are at most this many;
#: beyond, it walks the table newest first (matches are dense then).
RECENT_SORT_MAX = 10_000


def recent(
    backend: SqliteStateBackend,
    limit: int,
    task_id: str | None,
    statuses: Iterable[InvocationStatus] | None,
    queue: str | None,
) -> list[InvocationSummary]:
    """:meth:`StateBackend.recent <pynenc.state_backend.base.StateBackend.recent>` on
    SQLite (see the module docstring)."""
    where, params = "app_id = ?", [backend.app_id]
    if task_id is not None:
        where += " AND task_id = ?"
        params.append(task_id)
    if statuses is not None:
        wanted = sorted({status.value for status in statuses})
        if not wanted:
            return []
        where += f" AND status IN ({', '.join('?' * len(wanted))})"
        params.extend(wanted)
    with backend._connection() as conn:
        # Few matches: take them from the task/status index and sort them. Many: "+app_id"
        # keeps SQLite off the indexes, so it walks the rowids backwards and stops after
        # ``limit`` matching rows instead of sorting every match.
        filtered = task_id is not None or statuses is not None
        count_sql = f"SELECT count(*) FROM pynenc_invocations WHERE {where}"
        if not filtered or conn.execute(count_sql, params).fetchone()[0] > RECENT_SORT_MAX:
            where = "+" + where
        if queue is not None:
            where += " AND queue = ?"
            params.append(queue)
        rows = conn.execute(
            "SELECT invocation_id, task_id, status, queue, due, (SELECT h.timestamp FROM "
            "pynenc_history h WHERE h.app_id = i.app_id AND h.invocation_id = "
            f"i.invocation_id ORDER BY h.seq LIMIT 1) FROM pynenc_invocations i WHERE {where} "
            "ORDER BY i.rowid DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
    return [
        InvocationSummary(inv, task, InvocationStatus(status), q, registered or 0.0, due)
        for inv, task, status, q, due, registered in rows
    ]
