"""WAL checkpoints off the request path (``pynenc/sqlite_checkpoint.py``): a commit no
longer copies the log back into the database; the process's checkpointer thread does."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from pynenc import sqlite_checkpoint
from pynenc.sqlite_checkpoint import offload
from tests.integration.deployments import wait_until

SPAWN = multiprocessing.get_context("spawn")


class _Owner:
    """Stands for the state backend or message store that made the connection."""


def _write_pages(path: str, interval: float) -> int:
    """In a fresh process: commit ~1,500 pages through an offloaded connection; the size
    of the database file (the log not copied back) when the checkpointer never runs."""
    sqlite_checkpoint.INTERVAL = interval
    owner = _Owner()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x BLOB)")
    offload(conn, path, owner)
    size = os.path.getsize(path)
    for _ in range(1500):
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")  # a page or more each
    if interval > 60:
        assert os.path.getsize(path) == size, "a commit checkpointed the log"
    else:
        wait_until(lambda: os.path.getsize(path) > size, 60, "the background checkpoint")
    return 0


@pytest.mark.parametrize("interval", [3600.0, 0.1], ids=["no-checkpointer", "checkpointer"])
def test_commits_leave_checkpoints_to_the_checkpointer(tmp_path: Path, interval: float) -> None:
    child = SPAWN.Process(target=_write_pages, args=(str(tmp_path / "db.sqlite"), interval))
    child.start()
    child.join(120)
    assert child.exitcode == 0


def test_a_file_is_dropped_once_its_owners_are_gone(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    owner = _Owner()
    conn = sqlite3.connect(path)
    offload(conn, path, owner)
    assert path in sqlite_checkpoint._files
    conn.close()
    del owner
    gc.collect()
    wait_until(lambda: path not in sqlite_checkpoint._files, 30, "the file to be dropped")


def test_a_deleted_file_is_not_made_again(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite"
    entry = sqlite_checkpoint._File(str(path))
    with pytest.raises(sqlite3.OperationalError):
        entry.checkpoint()
    assert not path.exists()


def _fork_while_checkpointing(path: str, forks: int) -> list[int]:
    """In a fresh process: commit, then fork a child that opens the file and reads it, with
    the checkpointer looking all the time; the wait statuses of the children that failed
    (hung past 10 s: killed by SIGALRM; an SQLite error: exit code 3)."""
    sqlite_checkpoint.INTERVAL = 0.0
    owner = _Owner()
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x BLOB)")
    offload(conn, path, owner)
    failed = []
    for _ in range(forks):
        for _ in range(20):
            conn.execute("INSERT INTO t VALUES (randomblob(2000))")
        pid = os.fork()
        if pid == 0:  # the child: SQLite only, then out without Python's clean-up
            code = 3
            try:
                signal.alarm(10)
                child = sqlite3.connect(path, isolation_level=None)
                child.execute("SELECT count(*) FROM t").fetchone()
                child.close()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status:
            failed.append(status)
    return failed


def test_a_fork_never_copies_the_checkpointer_inside_sqlite(tmp_path: Path) -> None:
    # without the at-fork hook, about one child in 75 hung on a lock copied mid-checkpoint
    with ProcessPoolExecutor(1, mp_context=SPAWN) as pool:
        failed = pool.submit(_fork_while_checkpointing, str(tmp_path / "f.db"), 300).result()
    assert failed == []
