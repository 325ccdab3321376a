"""Waiting for a busy SQLite file in short steps (``pynenc/sqlite_busy.py``), on real
SQLite files: the write lock held by another connection is waited for, not failed on,
and the waiting connection's own busy timeout is back afterwards."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from pynenc import sqlite_busy
from pynenc.broker.sqlite_store import MessageStore
from pynenc.sqlite_busy import begin_immediate, retry_busy


def _busy_error() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = 5  # type: ignore[attr-defined]
    return error


def _holder(path: Path) -> sqlite3.Connection:
    """A connection of another writer, holding the write lock."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES (1)")
    return conn


def _waiting(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once a statement found the file busy and waits to try again."""
    waiting = threading.Event()
    sleep = sqlite_busy.time.sleep

    def noting(seconds: float) -> None:
        waiting.set()
        sleep(seconds)

    monkeypatch.setattr(sqlite_busy.time, "sleep", noting)
    return waiting


def test_a_busy_statement_is_tried_again_until_it_goes_through() -> None:
    attempts: list[int] = []

    def operation() -> str:
        attempts.append(1)
        if len(attempts) < 4:
            raise _busy_error()
        return "done"

    assert retry_busy(operation, 5.0) == "done"
    assert len(attempts) == 4


def test_another_error_is_not_retried() -> None:
    attempts: list[int] = []

    def operation() -> None:
        attempts.append(1)
        raise sqlite3.OperationalError("no such table: t")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_busy(operation, 5.0)
    assert len(attempts) == 1


def test_a_file_busy_past_the_timeout_raises_the_busy_error() -> None:
    def operation() -> None:
        raise _busy_error()

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_busy(operation, 0.01)


def test_begin_immediate_waits_for_the_other_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    holder = _holder(path)
    waiting = _waiting(monkeypatch)
    conn = sqlite3.connect(path, timeout=7.5, isolation_level=None, check_same_thread=False)
    began: list[Any] = []

    def begin() -> None:
        begin_immediate(conn, 7.5)
        began.append(conn.in_transaction)
        conn.execute("INSERT INTO t VALUES (2)")
        conn.execute("COMMIT")

    thread = threading.Thread(target=begin)
    thread.start()
    assert waiting.wait(10)  # it found the file busy
    holder.execute("COMMIT")
    thread.join(10)
    assert began == [True]
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 7500
    assert sorted(r[0] for r in conn.execute("SELECT x FROM t")) == [1, 2]


def test_the_message_store_waits_for_another_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "broker.db"
    store = MessageStore(str(path))
    holder = _holder(path)
    waiting = _waiting(monkeypatch)
    thread = threading.Thread(target=store.put, args=([("q", 0, "payload")],))
    thread.start()
    assert waiting.wait(10)
    holder.execute("COMMIT")
    thread.join(10)
    assert store.size("q") == 1
    store.close()
