"""WAL checkpoints of pynenc's SQLite files, run off the request path.

In WAL mode a commit appends the pages it changed to the ``-wal`` file, and SQLite copies
them back into the database file — a *checkpoint*: page writes and two ``fsync`` — inside
whichever commit takes the log past ``wal_autocheckpoint`` pages (1000). A round trip of
the SQLite broker and state backend writes about 25 pages, so one round trip in forty paid
a checkpoint of a few ms: that was the round trip's p99.

Here a connection on the request path raises its threshold to ``SAFETY_PAGES`` (the log
stays bounded even where nothing else checkpoints), and one daemon thread per process
checkpoints each file in use: ``PRAGMA wal_checkpoint(PASSIVE)`` (it never waits for
readers or writers, and releases the GIL while it copies) every ``INTERVAL`` seconds,
when some connection committed since its last look. A file is dropped once every object
that offloaded to it (a state backend, a message store) is gone.

A process forked while a thread is inside SQLite copies SQLite's locks taken (its memory
and file mutexes, its view of the file locks): the child hangs, or reads a database it
takes for malformed, on its first use of SQLite. So a fork waits for the checkpointer to
leave SQLite (an at-fork hook takes the lock it holds there), at most one checkpoint.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from urllib.parse import quote

logger = logging.getLogger("pynenc.sqlite_checkpoint")

#: Seconds between two looks of the checkpointer at each file.
INTERVAL = 0.1
#: ``wal_autocheckpoint`` of the connections that offload: a commit checkpoints only past it.
SAFETY_PAGES = 10_000


class _File:
    """One database file the checkpointer looks after, and who uses it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.owners: weakref.WeakSet[object] = weakref.WeakSet()
        self.conn: sqlite3.Connection | None = None
        self.version: int | None = None

    def checkpoint(self) -> None:
        if self.conn is None:
            # mode=rw: a file deleted meanwhile is not made again; timeout 0: a busy file
            # is simply looked at again next time
            self.conn = sqlite3.connect(
                f"file:{quote(self.path)}?mode=rw",
                uri=True,
                timeout=0,
                isolation_level=None,
                check_same_thread=False,
            )
        (version,) = self.conn.execute("PRAGMA data_version").fetchone()
        if version != self.version:  # another connection committed since the last look
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.version = version

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


_files: dict[str, _File] = {}
_lock = threading.Lock()
#: held by the checkpointer while it is inside SQLite, and by a thread that forks
_busy = threading.Lock()
_thread: threading.Thread | None = None
#: connections of the parent process in a forked child: never used, closed nor finalised
_inherited: list[sqlite3.Connection] = []


def offload(conn: sqlite3.Connection, path: str, owner: object) -> None:
    """Leave ``conn``'s checkpoints of the file at ``path`` to this process's checkpointer,
    which looks after the file as long as ``owner`` (who made the connection) lives."""
    conn.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_PAGES}")
    global _thread
    with _lock:
        entry = _files.get(path)
        if entry is None:
            entry = _files[path] = _File(path)
        entry.owners.add(owner)
        if _thread is None:
            _thread = threading.Thread(target=_run, name="pynenc-sqlite-checkpoint", daemon=True)
            _thread.start()


def _run() -> None:
    while True:
        time.sleep(INTERVAL)  # a pace, not a synchronisation
        with _lock:
            gone = [path for path, entry in _files.items() if not entry.owners]
            dropped = [_files.pop(path) for path in gone]
            entries = list(_files.values())
        for entry in dropped:
            with _busy:
                entry.close()
        for entry in entries:
            with _busy:
                try:
                    entry.checkpoint()
                except sqlite3.Error as exc:  # a file gone or locked: the next look retries
                    logger.debug("Checkpoint of %s failed: %r", entry.path, exc)
                    entry.close()


def _before_fork() -> None:
    _busy.acquire()  # the checkpointer is outside SQLite until the fork is done


def _after_fork_in_parent() -> None:
    _busy.release()


def _after_fork_in_child() -> None:
    global _lock, _busy, _thread
    _busy = threading.Lock()
    _lock = threading.Lock()  # may have been held by the parent's checkpointer
    _thread = None  # not running here: started again by the child's first connection
    _inherited.extend(entry.conn for entry in _files.values() if entry.conn is not None)
    _files.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
