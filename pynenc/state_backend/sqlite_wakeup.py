"""Waiting for invocations of the SQLite state backend, woken across processes.

A committed final status wakes the waiters on that invocation: in this process at once
(they return without reading the status again), in the other processes that wait on the
same file and app through :mod:`pynenc.file_wakeup` (a datagram naming the ids that ended,
after the commit). A waiter that finds its invocation pending arms its process's socket and
reads again before it waits, so no final status falls between its read and its wait, and
it still re-reads every
``recheck_interval`` (1 s) in case a wake-up was lost. Where this process cannot listen
(not Linux, an unwritable directory: logged once), waiters poll instead: every
``POLL_FIRST`` seconds, doubling up to ``POLL_MAX``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pynenc.file_wakeup import wakeup_of
from pynenc.records import FINAL, InvocationRecord, InvocationStatus
from pynenc.state_backend._waiters import Waiters, wait_until_all_final, wait_until_final
from pynenc.state_backend.base import StateBackend
from pynenc.state_backend.sqlite_reads import READ_CHUNK

if TYPE_CHECKING:
    from pynenc.state_backend.sqlite import SqliteStateBackend

#: Seconds between a woken waiter's re-reads, in case a wake-up was lost.
RECHECK_INTERVAL = 1.0
#: Without wake-ups, a waiter polls after this many seconds, doubling up to ``POLL_MAX``.
POLL_FIRST = 0.0005
POLL_MAX = 0.02

# Per process: one Waiters per (file, app), so any backend instance's commit wakes waiters.
_waiters_by_db: dict[tuple[str, str], Waiters] = {}
_lock = threading.Lock()


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # may have been held by a thread that no longer exists
    _waiters_by_db.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


def waiters_for(path: str, app_id: str) -> Waiters:
    """This process's waiters on the invocations of ``app_id`` in the file ``path``."""
    with _lock:
        waiters = _waiters_by_db.get((path, app_id))
        if waiters is None:
            waiters = _waiters_by_db[path, app_id] = Waiters()
        return waiters


def _topic(app_id: str) -> str:
    return "state:" + app_id


def ended(backend: SqliteStateBackend, invocation_ids: Sequence[str]) -> None:
    """Wake the waiters on ``invocation_ids``, ended by a committed transaction."""
    if invocation_ids:
        waiters = waiters_for(backend.path, backend.app_id)
        for invocation_id in invocation_ids:
            waiters.notify(invocation_id)
        wakeup_of(backend.path).send(_topic(backend.app_id), invocation_ids)


def recheck_all(backend: SqliteStateBackend) -> None:
    """Make every waiter on the app, in every process, read its statuses again."""
    waiters_for(backend.path, backend.app_id).notify_all()
    wakeup_of(backend.path).send(_topic(backend.app_id), None)


def _listen(backend: SqliteStateBackend) -> bool:
    """Listen for other processes' wake-ups (before the first read); ``False``: poll."""
    path, app_id = backend.path, backend.app_id

    def deliver(invocation_ids: list[str] | None) -> None:
        waiters = waiters_for(path, app_id)
        if invocation_ids is None:
            waiters.notify_all()
        else:
            for invocation_id in invocation_ids:
                waiters.notify(invocation_id)

    return wakeup_of(path).listen(_topic(app_id), deliver)


def wait_final(backend: SqliteStateBackend, invocation_id: str, timeout: float | None) -> bool:
    return _wait(backend, invocation_id, timeout, lambda: _status(backend, invocation_id))


def wait_final_record(
    backend: SqliteStateBackend, invocation_id: str, timeout: float | None
) -> InvocationRecord | None:
    """Reads the whole record while waiting: an invocation already final costs one read."""
    seen: list[InvocationRecord | None] = [None]

    def read() -> InvocationStatus | None:
        seen[0] = record = backend.get(invocation_id)
        return None if record is None else record.status

    if not _wait(backend, invocation_id, timeout, read):
        return None
    record = seen[0]
    return record if record is not None and record.status in FINAL else backend.get(invocation_id)


def _wait(
    backend: SqliteStateBackend,
    invocation_id: str,
    timeout: float | None,
    read: Callable[[], InvocationStatus | None],
) -> bool:
    waiters = waiters_for(backend.path, backend.app_id)
    if not _listen(backend):
        with waiters.watch(invocation_id) as waiter:
            return wait_until_final(read, waiter, timeout, POLL_FIRST, POLL_MAX)
    # Found final (or gone) at once: no arming (two mode changes) for what needs no wait.
    status = read()
    if status is None or status in FINAL:
        return status is not None
    # Armed, then read again (inside wait_until_final): a final status committed after the
    # arm is sent to us, one committed before it is seen by that read.
    with wakeup_of(backend.path).armed(), waiters.watch(invocation_id) as waiter:
        recheck = backend.recheck_interval
        return wait_until_final(read, waiter, timeout, recheck, recheck)


def wait_final_many(
    backend: SqliteStateBackend, invocation_ids: Sequence[str], timeout: float | None
) -> bool:
    """One batched status read, then wake-ups shrink the set (re-read on a recheck).
    Without wake-ups: :meth:`wait_final` of each id in turn, polling, as ever."""
    if not _listen(backend):
        return StateBackend.wait_final_many(backend, invocation_ids, timeout)
    ids = list(invocation_ids)
    statuses = _statuses(backend, ids)
    if all(status in FINAL for status in statuses) or None in statuses:
        return None not in statuses  # nothing to wait for: no arming
    waiters = waiters_for(backend.path, backend.app_id)
    with wakeup_of(backend.path).armed(), waiters.watch(*ids) as waiter:
        return wait_until_all_final(
            lambda pending: _statuses(backend, pending),
            waiter,
            ids,
            timeout,
            backend.recheck_interval,
        )


def _status(backend: SqliteStateBackend, invocation_id: str) -> InvocationStatus | None:
    with backend._connection() as conn:
        row = conn.execute(
            "SELECT status FROM pynenc_invocations WHERE app_id = ? AND invocation_id = ?",
            (backend.app_id, invocation_id),
        ).fetchone()
    return None if row is None else InvocationStatus(row[0])


def _statuses(
    backend: SqliteStateBackend, invocation_ids: list[str]
) -> list[InvocationStatus | None]:
    found: dict[str, str] = {}
    with backend._snapshot() as conn:
        for start in range(0, len(invocation_ids), READ_CHUNK):
            chunk = invocation_ids[start : start + READ_CHUNK]
            found.update(
                conn.execute(
                    "SELECT invocation_id, status FROM pynenc_invocations WHERE app_id = ? "
                    f"AND invocation_id IN ({', '.join('?' * len(chunk))})",
                    (backend.app_id, *chunk),
                ).fetchall()
            )
    return [None if (s := found.get(i)) is None else InvocationStatus(s) for i in invocation_ids]
