"""Batched reads of the SQLite state backend: records and histories of many invocations.

One query per ``READ_CHUNK`` ids, all in one read
transaction, so every row comes from the same state of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, without_links
from pynenc.state_backend.sqlite_schema import COLUMNS, COLUMNS_WITHOUT_LINKS, record_from_row

if TYPE_CHECKING:
    from pynenc.state_backend.sqlite import SqliteStateBackend

#: Ids per query in the reads of many invocations (``IN (?, …)``; SQLite allows more).
READ_CHUNK = 500


def records(
    backend: SqliteStateBackend,
    invocation_ids: Sequence[str],
    status: InvocationStatus | None,
    links: bool = True,
) -> list[InvocationRecord | None]:
    """The records of ``invocation_ids`` (only those in ``status`` when given; the others are
    not decoded), ``None`` where there is none; without their links unless ``links``."""
    where = "" if status is None else "AND status = ? "
    extra = () if status is None else (status.value,)
    columns = COLUMNS if links else COLUMNS_WITHOUT_LINKS
    rows: dict[str, Sequence[Any]] = {}
    with backend._snapshot() as conn:
        for start in range(0, len(invocation_ids), READ_CHUNK):
            chunk = invocation_ids[start : start + READ_CHUNK]
            found = conn.execute(
                f"SELECT invocation_id, {columns} FROM pynenc_invocations WHERE app_id = ? "
                f"{where}AND invocation_id IN ({', '.join('?' * len(chunk))})",
                (backend.app_id, *extra, *chunk),
            )
            rows.update((row[0], row[1:]) for row in found)
    got = [
        None if (row := rows.get(inv)) is None else record_from_row(inv, row)
        for inv in invocation_ids
    ]
    # an older pynenc's record keeps its links in the meta: left out all the same
    return got if links else without_links(got)


def history_many(
    backend: SqliteStateBackend, invocation_ids: Sequence[str]
) -> list[list[StatusEntry]]:
    """The status histories of ``invocation_ids``, oldest entry first."""
    histories: dict[str, list[StatusEntry]] = {i: [] for i in invocation_ids}
    with backend._snapshot() as conn:
        for start in range(0, len(invocation_ids), READ_CHUNK):
            chunk = invocation_ids[start : start + READ_CHUNK]
            found = conn.execute(
                "SELECT invocation_id, status, timestamp, runner_id, reason "
                "FROM pynenc_history WHERE app_id = ? "
                f"AND invocation_id IN ({', '.join('?' * len(chunk))}) ORDER BY seq",
                (backend.app_id, *chunk),
            )
            for invocation_id, status, timestamp, runner_id, reason in found:
                entry = StatusEntry(InvocationStatus(status), timestamp, runner_id, reason)
                histories[invocation_id].append(entry)
    return [list(histories[invocation_id]) for invocation_id in invocation_ids]
