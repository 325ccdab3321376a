"""The SQLite state backend's schema and statements: the tables, the columns added by later
versions (and how older files gain them), the compare-and-set and expiry updates, and how a
row becomes an :class:`~pynenc.records.InvocationRecord` (see
:mod:`pynenc.state_backend.sqlite`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from functools import cache
from typing import Any

from pynenc.records import InvocationRecord, InvocationStatus, decode_meta
from pynenc.state_backend import sqlite_limits, sqlite_logs, sqlite_values

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pynenc_invocations (
        app_id TEXT NOT NULL, invocation_id TEXT NOT NULL, task_id TEXT NOT NULL,
        status TEXT NOT NULL, owner TEXT, num_retries INTEGER NOT NULL, parent_id TEXT,
        queue TEXT NOT NULL, arguments TEXT NOT NULL, result TEXT, error TEXT,
        fingerprint TEXT, priority INTEGER, due REAL, expires REAL, meta TEXT, links TEXT,
        PRIMARY KEY (app_id, invocation_id)
    )""",  # a rowid table: random ids insert faster as a small key in the PK index; links
    # last: a read that leaves them out (get_many_without_links) reads no overflow page of
    # theirs
    """CREATE INDEX IF NOT EXISTS pynenc_invocations_by_task
        ON pynenc_invocations (app_id, task_id, status)""",
    """CREATE INDEX IF NOT EXISTS pynenc_invocations_by_status
        ON pynenc_invocations (app_id, status)""",
    # seq (the rowid) only grows, so it orders an invocation's history
    """CREATE TABLE IF NOT EXISTS pynenc_history (
        seq INTEGER PRIMARY KEY, app_id TEXT NOT NULL, invocation_id TEXT NOT NULL,
        status TEXT NOT NULL, timestamp REAL NOT NULL, runner_id TEXT, reason TEXT
    )""",
    """CREATE INDEX IF NOT EXISTS pynenc_history_by_invocation
        ON pynenc_history (app_id, invocation_id)""",
    """CREATE TABLE IF NOT EXISTS pynenc_runners (
        app_id TEXT NOT NULL, runner_id TEXT NOT NULL, last_seen REAL NOT NULL,
        PRIMARY KEY (app_id, runner_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS pynenc_runner_info (
        app_id TEXT NOT NULL, runner_id TEXT NOT NULL, info TEXT NOT NULL,
        PRIMARY KEY (app_id, runner_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS pynenc_leases (
        app_id TEXT NOT NULL, name TEXT NOT NULL, holder TEXT NOT NULL, expires REAL NOT NULL,
        PRIMARY KEY (app_id, name)
    ) WITHOUT ROWID""",
    *sqlite_limits.SCHEMA,
    sqlite_values.TABLE,
    *sqlite_logs.SCHEMA,
    # composition links (sqlite_links): per parent, the WAITING invocations waiting for it,
    # in link order (seq); not unique per (parent, child): a parent twice in `after` counts
    # twice
    """CREATE TABLE IF NOT EXISTS pynenc_link_waits (
        seq INTEGER PRIMARY KEY, app_id TEXT NOT NULL, parent_id TEXT NOT NULL,
        child_id TEXT NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS pynenc_link_waits_by_parent
        ON pynenc_link_waits (app_id, parent_id)""",
    # per WAITING invocation, how many of those it waits for have not succeeded yet
    """CREATE TABLE IF NOT EXISTS pynenc_link_counts (
        app_id TEXT NOT NULL, invocation_id TEXT NOT NULL, waits INTEGER NOT NULL,
        PRIMARY KEY (app_id, invocation_id)
    ) WITHOUT ROWID""",
)
TABLES = (
    "pynenc_invocations",
    "pynenc_history",
    "pynenc_runners",
    "pynenc_runner_info",
    "pynenc_leases",
    *sqlite_limits.TABLES,
    "pynenc_values",
    "pynenc_link_waits",
    "pynenc_link_counts",
    *sqlite_logs.TABLES,
)
COLUMNS = (
    "task_id, status, owner, num_retries, parent_id, queue, arguments, result, error, "
    "priority, due, expires, meta, links"
)
#: ``COLUMNS`` but ``links`` (NULL in its place), for a read that leaves them out
COLUMNS_WITHOUT_LINKS = COLUMNS.removesuffix("links") + "NULL"
#: Columns added to ``pynenc_invocations`` after its first version, with their types: a
#: file made by an older pynenc gains them on first open (its rows hold NULL there).
ADDED_COLUMNS = (
    ("fingerprint", "TEXT"),
    ("priority", "INTEGER"),
    ("due", "REAL"),
    ("expires", "REAL"),
    ("meta", "TEXT"),  # serializer, headers, root (records.encode_meta); NULL: a plain call
    ("links", "TEXT"),  # records.encode_links; NULL: none (or kept in the meta, by an older one)
)
#: The scheduled index: only SCHEDULED rows, by due time. It follows the status column, so
#: every status change keeps it in step. (Created after the columns above exist.)
SCHEDULED_INDEX = (
    "CREATE INDEX IF NOT EXISTS pynenc_invocations_scheduled "
    "ON pynenc_invocations (app_id, due) WHERE status = 'scheduled'"
)
#: The call tree: the children of a parent, in registration (rowid) order. Partial: a call
#: made outside a task (no parent) adds no entry, so it registers at the same cost.
CHILDREN_INDEX = (
    "CREATE INDEX IF NOT EXISTS pynenc_invocations_by_parent "
    "ON pynenc_invocations (app_id, parent_id) WHERE parent_id IS NOT NULL"
)
#: The indexes created after the columns: a file lacking one gains it on first open.
LATE_INDEXES = {
    "pynenc_invocations_scheduled": SCHEDULED_INDEX,
    "pynenc_invocations_by_parent": CHILDREN_INDEX,
}
INSERT_INVOCATION = (
    f"INSERT OR IGNORE INTO pynenc_invocations (app_id, invocation_id, {COLUMNS}, fingerprint) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_HISTORY = (
    "INSERT INTO pynenc_history (app_id, invocation_id, status, timestamp, runner_id, reason) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# Deletes the entries of one invocation (app_id, invocation_id: given three times) between
# its first and its newest ``keep`` (the OFFSET): nothing when it has no more than keep + 1
_TRIM_HISTORY = (
    "DELETE FROM pynenc_history WHERE app_id = ? AND invocation_id = ? "
    "AND seq > (SELECT MIN(seq) FROM pynenc_history WHERE app_id = ? AND invocation_id = ?) "
    "AND seq <= (SELECT seq FROM pynenc_history WHERE app_id = ? AND invocation_id = ? "
    "ORDER BY seq DESC LIMIT 1 OFFSET ?)"
)


def trim_history(conn: sqlite3.Connection, app_id: str, invocation_id: str, keep: int) -> None:
    """Keep the first history entry of ``invocation_id`` and its ``keep`` newest ones, in
    the caller's transaction (:attr:`~pynenc.records.StatusUpdateWithArguments.keep_history`)."""
    key = (app_id, invocation_id)
    conn.execute(_TRIM_HISTORY, (*key, *key, *key, keep))


# Upsert guarded by a WHERE: no row changes when another holder's lease is still running.
ACQUIRE_LEASE = (
    "INSERT INTO pynenc_leases (app_id, name, holder, expires) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (app_id, name) DO UPDATE SET holder = excluded.holder, "
    "expires = excluded.expires WHERE holder = excluded.holder OR expires <= ?"
)


@cache
def expectations_sql(num_expected: int) -> str:
    """The WHERE of a compare-and-set (parameters: see ``SqliteStateBackend._apply``)."""
    marks = ", ".join("?" * num_expected)
    return (
        f"WHERE app_id = ? AND invocation_id = ? AND status IN ({marks}) "
        "AND (? IS NULL OR owner = ?) AND (? IS NULL OR task_id = ?) "
        # a record stored before fingerprints existed has none: its claim is not checked
        "AND (? IS NULL OR fingerprint IS NULL OR fingerprint = ?)"
    )


def record_from_row(invocation_id: str, row: Sequence[Any]) -> InvocationRecord:
    """The record of a row of ``COLUMNS``."""
    task_id, status, owner, retries, parent_id, queue, arguments, result, error = row[:9]
    return InvocationRecord(
        invocation_id,
        task_id,
        json.loads(arguments),
        status=InvocationStatus(status),
        owner=owner,
        num_retries=retries,
        parent_id=parent_id,
        result=result,
        error=None if error is None else json.loads(error),
        queue=queue,
        priority=row[9],
        due=row[10],
        expires=row[11],
        **({} if row[12] is None and row[13] is None else decode_meta(row[12], row[13])),
    )


@cache
def compare_and_set_sql(num_expected: int, new_arguments: bool = False) -> str:
    """The compare-and-set of an update; with ``new_arguments``, it also sets the stored
    arguments and their fingerprint (two more parameters, after ``due``)."""
    arguments = ", arguments = ?, fingerprint = ?" if new_arguments else ""
    return (
        "UPDATE pynenc_invocations SET status = ?, owner = ?, result = COALESCE(?, result), "
        "error = COALESCE(?, error), num_retries = COALESCE(?, num_retries), "
        f"due = COALESCE(?, due){arguments} {expectations_sql(num_expected)} "
        # with an expiry check (its time given): not once the record has expired
        "AND (? IS NULL OR expires IS NULL OR expires > ?)"
    )


@cache
def expire_sql(num_expected: int) -> str:
    return (
        f"UPDATE pynenc_invocations SET status = ?, owner = NULL "
        f"{expectations_sql(num_expected)} AND expires <= ?"
    )


def missing_columns(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """The :data:`ADDED_COLUMNS` the invocations table lacks (a file of an older pynenc)."""
    present = {column[1] for column in conn.execute("PRAGMA table_info(pynenc_invocations)")}
    return [(name, kind) for name, kind in ADDED_COLUMNS if name not in present]
