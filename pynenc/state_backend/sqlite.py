"""SQLite state backend: one database file shared by the threads and processes of a host.

URLs: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``. The file runs in WAL
mode (readers never block the writer) with a busy timeout, so concurrent writers queue up
instead of failing. Every table carries an ``app_id`` column, so several apps share a file.

Connections are never shared between two threads at once (each operation borrows one from a
per-process pool) nor across a fork (a child process starts a pool of its own). A final
status wakes the waiters of this process at once and those of other processes through a
socket beside the file (:mod:`~pynenc.state_backend.sqlite_wakeup`; they poll where none
can be made).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pynenc.exceptions import ConfigError, StateBackendError, StateBackendUnavailableError
from pynenc.file_wakeup import SUPPORTED
from pynenc.records import (
    FINAL,
    InvocationRecord,
    InvocationStatus,
    InvocationSummary,
    StatusEntry,
    StatusUpdate,
    StatusUpdateWithArguments,
    encode_links,
    encode_meta,
    fingerprint,
)
from pynenc.sqlite_busy import begin_immediate
from pynenc.sqlite_checkpoint import offload as offload_checkpoints
from pynenc.state_backend import (
    sqlite_limits,
    sqlite_logs,
    sqlite_reads,
    sqlite_recent,
    sqlite_runners,
    sqlite_values,
    sqlite_wakeup,
)
from pynenc.state_backend._links import link_new, settle
from pynenc.state_backend.base import Capabilities, StateBackend
from pynenc.state_backend.sqlite_links import SqliteLinkOps
from pynenc.state_backend.sqlite_schema import (
    COLUMNS,
    INSERT_HISTORY,
    INSERT_INVOCATION,
    LATE_INDEXES,
    SCHEMA,
    TABLES,
    compare_and_set_sql,
    expire_sql,
    missing_columns,
    record_from_row,
    trim_history,
)

#: Seconds a writer waits for another process's transaction before failing.
BUSY_TIMEOUT = 30.0


def database_path(url: str) -> str:
    """The absolute file path named by a ``sqlite:///…`` URL (relative to the cwd)."""
    parts = urlsplit(url)
    path = parts.path[1:]  # "sqlite:///x" -> "/x"; the first slash only ends the authority
    if parts.scheme != "sqlite" or parts.netloc or not path or path.endswith("/"):
        raise ConfigError(
            f"Invalid SQLite state backend URL {url!r}: expected sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db (a file path is required)."
        )
    if path == ":memory:":
        raise ConfigError(
            f"SQLite state backend URL {url!r}: an in-memory database cannot be shared "
            "between threads or processes; name a file, or use memory://."
        )
    return str(Path(path).resolve())


# Parent connections inherited by a forked child: kept referenced so they are never closed
# (or finalised, when a backend is dropped) there — SQLite forbids both across a fork.
_inherited: list[sqlite3.Connection] = []
_instances: weakref.WeakSet[SqliteStateBackend] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for backend in list(_instances):
        backend._forget_parent_connections()


os.register_at_fork(after_in_child=_reset_after_fork)


class SqliteStateBackend(StateBackend):
    """State in one SQLite file: safe for threads and processes on one host."""

    capabilities = Capabilities(cross_process=True, native_wakeup=SUPPORTED)
    #: seconds between a woken waiter's re-reads, in case a wake-up was lost
    recheck_interval = sqlite_wakeup.RECHECK_INTERVAL

    def __init__(self, app_id: str, url: str) -> None:
        super().__init__(app_id, url)
        self.path = database_path(url)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        _instances.add(self)
        self._create_schema()

    # -- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; we issue BEGIN IMMEDIATE ourselves
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            # WAL + NORMAL survives a process crash; only an OS crash may lose the last commits
            conn.execute("PRAGMA synchronous = NORMAL")
            offload_checkpoints(conn, self.path, self)
        except sqlite3.Error as exc:
            raise StateBackendUnavailableError(
                f"Cannot open SQLite database {self.path}: {exc}"
            ) from exc
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection of this process for one operation."""
        if self._pid != os.getpid():
            self._forget_parent_connections()
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        except sqlite3.Error as exc:
            # OperationalError: locked past the busy timeout, disk I/O, a file gone: the
            # database, not what was asked of it; worth trying again later
            error = (
                StateBackendUnavailableError
                if isinstance(exc, sqlite3.OperationalError)
                else StateBackendError
            )
            raise error(
                f"SQLite state backend {self.path} (app {self.app_id!r}) failed: {exc}"
            ) from exc
        finally:
            if conn.in_transaction:  # a failed COMMIT: never hand on a half-done transaction
                conn.rollback()
            with self._lock:
                self._idle.append(conn)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: the write lock is taken first, so nothing changes under it
        (waited for in short steps while another connection writes: pynenc.sqlite_busy)."""
        with self._connection() as conn:
            begin_immediate(conn, BUSY_TIMEOUT)
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _forget_parent_connections(self) -> None:
        # Called in a forked child (from the at-fork hook, or on noticing the pid change).
        _inherited.extend(self._idle)
        self._idle = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _create_schema(self) -> None:
        with self._connection() as conn:
            # a plain read first: processes that open an existing file take no write lock
            (tables,) = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                f"({', '.join('?' * len(TABLES))})",
                TABLES,
            ).fetchone()
            (indexes,) = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                f"({', '.join('?' * len(LATE_INDEXES))})",
                tuple(LATE_INDEXES),
            ).fetchone()
            complete = tables == len(TABLES) and indexes == len(LATE_INDEXES)
            if complete and not missing_columns(conn):
                return
            # WAL is a property of the file: set once, by whoever creates the tables
            conn.execute("PRAGMA journal_mode = WAL")
        with self._transaction() as conn:
            for statement in SCHEMA:
                conn.execute(statement)
            for name, kind in missing_columns(conn):  # a file made by an older pynenc
                conn.execute(f"ALTER TABLE pynenc_invocations ADD COLUMN {name} {kind}")
            for index in LATE_INDEXES.values():
                conn.execute(index)

    # -- invocations ---------------------------------------------------------------------

    def register(self, records: Sequence[InvocationRecord], entry_time: float) -> list[bool]:
        ops = None
        with self._transaction() as conn:
            inserted = self._insert(conn, records, entry_time)
            for record, new in zip(records, inserted, strict=True):
                if new and record.status is InvocationStatus.WAITING and record.links:
                    ops = ops or SqliteLinkOps(conn, self.app_id)
                    link_new(ops, record.invocation_id, record.links, entry_time)
        if ops is not None:
            sqlite_wakeup.ended(self, ops.ended)
        return inserted

    def _insert(
        self, conn: sqlite3.Connection, records: Sequence[InvocationRecord], entry_time: float
    ) -> list[bool]:
        """Store new records, in the caller's write transaction; per record, whether it was
        new (an id stored already, a caller-chosen id seen before, is left as it is)."""
        app = self.app_id
        rows = [
            (
                app,
                r.invocation_id,
                r.task_id,
                r.status.value,
                r.owner,
                r.num_retries,
                r.parent_id,
                r.queue,
                json.dumps(r.arguments),
                r.result,
                None if r.error is None else json.dumps(r.error),
                r.priority,
                entry_time if r.due is None and r.status is InvocationStatus.SCHEDULED else r.due,
                r.expires,
                encode_meta(r),
                encode_links(r),
                fingerprint(r.arguments),
            )
            for r in records
        ]
        # Ids already stored are left alone. One statement for a whole batch, and only
        # when it did not insert every row (a caller-chosen id seen before) is it undone
        # and redone row by row, to learn which rows were new.
        if len(rows) == 1:  # a single call: its row count says it all
            inserted = [conn.execute(INSERT_INVOCATION, rows[0]).rowcount == 1]
        else:
            conn.execute("SAVEPOINT pynenc_register")
            before = conn.total_changes
            conn.executemany(INSERT_INVOCATION, rows)
            if conn.total_changes - before == len(rows):
                inserted = [True] * len(rows)
            else:
                conn.execute("ROLLBACK TO pynenc_register")
                inserted = [conn.execute(INSERT_INVOCATION, r).rowcount == 1 for r in rows]
            conn.execute("RELEASE pynenc_register")
        conn.executemany(
            INSERT_HISTORY,
            [
                (app, r.invocation_id, r.status.value, entry_time, None, None)
                for r, new in zip(records, inserted, strict=True)
                if new
            ],
        )
        return inserted

    def get(self, invocation_id: str) -> InvocationRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM pynenc_invocations WHERE app_id = ? AND invocation_id = ?",
                (self.app_id, invocation_id),
            ).fetchone()
        return None if row is None else record_from_row(invocation_id, row)

    def set_status(self, update: StatusUpdate) -> bool:
        return self.set_status_many([update])[0]

    def set_status_many(self, updates: Sequence[StatusUpdate]) -> list[bool]:
        """Every update in one transaction (one fsync-free WAL commit for a whole batch)."""
        with self._transaction() as conn:
            ops = SqliteLinkOps(conn, self.app_id)
            written = [self._apply(ops, update) for update in updates]
        sqlite_wakeup.ended(
            self,
            [
                update.invocation_id
                for update, entry in zip(updates, written, strict=True)
                if entry is not None and entry.status in FINAL
            ]
            + ops.ended,
        )
        return [entry is update.entry for update, entry in zip(updates, written, strict=True)]

    def _apply(self, ops: SqliteLinkOps, update: StatusUpdate) -> StatusEntry | None:
        """Apply one update; the history entry written (``update.entry``, or its
        ``on_expiry`` for an expired record), ``None`` when nothing changed. A final status
        settles what waits for the invocation (:mod:`~pynenc.state_backend._links`)."""
        if not update.expected:
            return None
        conn = ops.conn
        entry = update.entry
        expectations = (
            self.app_id,
            update.invocation_id,
            *(status.value for status in update.expected),
            update.expected_owner,
            update.expected_owner,
            update.expected_task,
            update.expected_task,
            update.expected_fingerprint,
            update.expected_fingerprint,
        )
        scheduled = entry.status is InvocationStatus.SCHEDULED
        due = (entry.timestamp if update.due is None else update.due) if scheduled else None
        expiry_check = None if update.on_expiry is None else entry.timestamp
        params: tuple[Any, ...] = (
            entry.status.value,
            update.owner,
            update.result,
            None if update.error is None else json.dumps(update.error),
            update.num_retries,
            due,
            *expectations,
            expiry_check,
            expiry_check,
        )
        sql = compare_and_set_sql(len(update.expected))
        if isinstance(update, StatusUpdateWithArguments):  # stored in the same step
            if update.keep_history is not None:
                return self._apply_and_trim(ops, update)
            new = (json.dumps(update.arguments), update.arguments_fingerprint)
            params = (*params[:6], *new, *params[6:])
            sql = compare_and_set_sql(len(update.expected), new_arguments=True)
        if conn.execute(sql, params).rowcount != 1:
            if update.on_expiry is None:
                return None
            entry = update.on_expiry
            expire = (entry.status.value, *expectations, expiry_check)
            if conn.execute(expire_sql(len(update.expected)), expire).rowcount != 1:
                return None
        conn.execute(
            INSERT_HISTORY,
            (
                self.app_id,
                update.invocation_id,
                entry.status.value,
                entry.timestamp,
                entry.runner_id,
                entry.reason,
            ),
        )
        if entry.status in FINAL:
            if InvocationStatus.WAITING in update.expected:  # it may have waited: no count
                ops.forget_count(update.invocation_id)
            settle(ops, update.invocation_id, entry.status, entry.timestamp)
        return entry

    def history(self, invocation_id: str) -> list[StatusEntry]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT status, timestamp, runner_id, reason FROM pynenc_history "
                "WHERE app_id = ? AND invocation_id = ? ORDER BY seq",
                (self.app_id, invocation_id),
            ).fetchall()
        return [
            StatusEntry(InvocationStatus(s), ts, runner, reason) for s, ts, runner, reason in rows
        ]

    def wait_final(self, invocation_id: str, timeout: float | None) -> bool:
        return sqlite_wakeup.wait_final(self, invocation_id, timeout)

    def wait_final_record(
        self, invocation_id: str, timeout: float | None
    ) -> InvocationRecord | None:
        return sqlite_wakeup.wait_final_record(self, invocation_id, timeout)

    def wait_final_many(self, invocation_ids: Sequence[str], timeout: float | None) -> bool:
        return sqlite_wakeup.wait_final_many(self, invocation_ids, timeout)

    def find(
        self,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
    ) -> list[str]:
        sql = "SELECT invocation_id FROM pynenc_invocations WHERE app_id = ?"
        params: list[str] = [self.app_id]
        if task_id is not None:
            sql += " AND task_id = ?"
            params.append(task_id)
        if statuses is not None:
            wanted = sorted({status.value for status in statuses})
            if not wanted:
                return []
            sql += f" AND status IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        with self._connection() as conn:
            return [row[0] for row in conn.execute(sql, params)]

    def recent(
        self,
        limit: int,
        *,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
        queue: str | None = None,
    ) -> list[InvocationSummary]:
        return sqlite_recent.recent(self, limit, task_id, statuses, queue)

    # -- runners and leases (see sqlite_runners) ------------------------------------------

    def heartbeat(self, runner_id: str, timestamp: float) -> None:
        sqlite_runners.heartbeat(self, runner_id, timestamp)

    def runners(self) -> dict[str, float]:
        return sqlite_runners.runners(self)

    def forget_runner(self, runner_id: str) -> None:
        sqlite_runners.forget_runner(self, runner_id)

    def set_runner_info(self, runner_id: str, info: Mapping[str, Any]) -> None:
        sqlite_runners.set_runner_info(self, runner_id, info)

    def runner_infos(self) -> dict[str, dict[str, Any]]:
        return sqlite_runners.runner_infos(self)

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        return sqlite_runners.acquire_lease(self, name, holder, ttl, now)

    def purge(self) -> int:
        with self._transaction() as conn:
            dropped = 0
            for table in TABLES:
                if table in sqlite_logs.KEPT_BY_PURGE:
                    continue
                cursor = conn.execute(f"DELETE FROM {table} WHERE app_id = ?", (self.app_id,))
                if table == "pynenc_invocations":
                    dropped = cursor.rowcount
        sqlite_wakeup.recheck_all(self)  # their invocations are gone: let them see it
        return dropped

    def close(self) -> None:
        if self._pid != os.getpid():
            return  # the connections belong to the parent process
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: its SELECTs all see one state of the file (a WAL snapshot)."""
        with self._connection() as conn:
            conn.execute("BEGIN")
            yield conn  # on an exception, _connection rolls the transaction back
            conn.execute("COMMIT")

    def get_many(self, invocation_ids: Sequence[str]) -> list[InvocationRecord | None]:
        """One query per ``READ_CHUNK`` ids, all in one read transaction."""
        return sqlite_reads.records(self, invocation_ids, None)

    def get_many_without_links(
        self, invocation_ids: Sequence[str]
    ) -> list[InvocationRecord | None]:
        """As :meth:`get_many`, without reading the ``links`` column."""
        return sqlite_reads.records(self, invocation_ids, None, links=False)

    def history_many(self, invocation_ids: Sequence[str]) -> list[list[StatusEntry]]:
        """One query per ``READ_CHUNK`` ids, all in one read transaction."""
        return sqlite_reads.history_many(self, invocation_ids)

    # -- concurrency control and rate limits (sqlite_limits.py) --------------------------

    def register_exclusive(
        self,
        records: Sequence[InvocationRecord],
        keys: Sequence[str | None],
        entry_time: float,
        held_while: frozenset[InvocationStatus],
    ) -> list[str | None]:
        with self._transaction() as conn:
            return sqlite_limits.register_exclusive(
                self, conn, records, keys, entry_time, held_while
            )

    def acquire_slot(
        self,
        key: str,
        holder: str,
        limit: int,
        held_while: frozenset[InvocationStatus],
        *,
        enqueue: bool = True,
    ) -> bool:
        with self._transaction() as conn:
            return sqlite_limits.acquire_slot(
                conn, self.app_id, key, holder, limit, held_while, enqueue
            )

    def release_slot(self, key: str, holder: str) -> str | None:
        with self._transaction() as conn:
            return sqlite_limits.release_slot(conn, self.app_id, key, holder)

    def slot_holders(self, key: str) -> list[str]:
        with self._connection() as conn:
            return sqlite_limits.slot_holders(conn, self.app_id, key)

    def take_rate(self, key: str, holder: str, interval: float, now: float) -> float:
        with self._transaction() as conn:
            return sqlite_limits.take_rate(conn, self.app_id, key, holder, interval, now)

    # -- values (see sqlite_values) ------------------------------------------------------

    def put_value(
        self, namespace: str, key: str, value: str, *, only_if_absent: bool = False
    ) -> bool:
        return sqlite_values.put_value(self, namespace, key, value, only_if_absent)

    def get_values(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        return sqlite_values.get_values(self, namespace, keys)

    def has_values(self, namespace: str, keys: Sequence[str]) -> list[bool]:
        return sqlite_values.has_values(self, namespace, keys)

    def delete_value(self, namespace: str, key: str, expected: str | None = None) -> bool:
        return sqlite_values.delete_value(self, namespace, key, expected)

    def append_log(self, stream: str, value: str, max_len: int) -> int:
        return sqlite_logs.append_log(self, stream, value, max_len)

    def read_log(self, stream: str, after: int, limit: int) -> list[tuple[int, str]]:
        return sqlite_logs.read_log(self, stream, after, limit)

    def due(self, until: float, limit: int) -> list[tuple[str, float]]:
        with self._connection() as conn:  # served by the partial index on SCHEDULED rows
            rows = conn.execute(
                "SELECT invocation_id, due FROM pynenc_invocations "
                "WHERE app_id = ? AND status = 'scheduled' AND due <= ? ORDER BY due LIMIT ?",
                (self.app_id, until, limit),
            ).fetchall()
        return [(invocation_id, due) for invocation_id, due in rows]

    # -- the call tree -------------------------------------------------------------------

    def children(self, invocation_id: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        with self._connection() as conn:  # served by the partial index on parent_id
            rows = conn.execute(
                "SELECT invocation_id FROM pynenc_invocations WHERE app_id = ? "
                "AND parent_id = ? ORDER BY rowid LIMIT ?",
                (self.app_id, invocation_id, limit),
            ).fetchall()
        return [row[0] for row in rows]

    # -- reads by status -------------------------------------------------------------------

    def get_many_in_status(
        self, invocation_ids: Sequence[str], status: InvocationStatus
    ) -> list[InvocationRecord | None]:
        """:meth:`get_many` of the rows in ``status`` only (the others are not decoded)."""
        return sqlite_reads.records(self, invocation_ids, status)

    def _apply_and_trim(
        self, ops: SqliteLinkOps, update: StatusUpdateWithArguments
    ) -> StatusEntry | None:
        """:meth:`_apply` of an update that trims the history (a continue-as-new), then the
        trim in the same transaction, when the update itself was written (not refused, not
        replaced by its expiry entry)."""
        keep = update.keep_history
        written = self._apply(ops, replace(update, keep_history=None))
        if keep is not None and written is update.entry:
            trim_history(ops.conn, self.app_id, update.invocation_id, keep)
        return written
