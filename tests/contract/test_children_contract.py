"""The ``children`` contract (:mod:`pynenc.testing.children_contract`) on memory, SQLite and
Redis (a real server, a fresh database per test), and on the base class's default; then
what each backend pays for it: nothing stored for a top-level call, an index SQLite uses."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from pynenc.state_backend import BACKENDS as SCHEMES
from pynenc.state_backend import create_state_backend, register_backend
from pynenc.state_backend.base import StateBackend
from pynenc.state_backend.memory import MemoryStateBackend
from pynenc.state_backend.redis import RedisStateBackend
from pynenc.state_backend.sqlite import SqliteStateBackend
from pynenc.testing.children_contract import ChildrenContract, child_of
from pynenc.testing.state_backend_contract import open_backend
from tests.contract.test_state_backend_contract import BACKENDS
from tests.servers import Server


class TestChildren(ChildrenContract):
    """Runs the contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


class ScanningBackend(MemoryStateBackend):
    """The memory backend answering ``children`` with the base class's default (a scan)."""

    children = StateBackend.children


@pytest.fixture(scope="module")
def _scanning_scheme() -> Iterator[None]:
    register_backend("scanning", f"{__name__}:ScanningBackend")
    yield
    del SCHEMES["scanning"]


class TestChildrenDefault(ChildrenContract):
    """The default of :class:`StateBackend` (what a third-party backend inherits)."""

    @pytest.fixture
    def backend_url(self, _scanning_scheme: object) -> str:
        return "scanning://"


def test_redis_stores_nothing_for_a_top_level_call(redis_server: Server) -> None:
    for backend in open_backend(redis_server.db_url()):
        assert isinstance(backend, RedisStateBackend)
        top, child = child_of(None), child_of("p-1")
        backend.register([top], time.time())
        client = backend._redis()
        assert client.keys(backend.prefix + "children:*") == []
        backend.register([child], time.time())
        assert client.keys(backend.prefix + "children:*") == [backend.prefix + "children:p-1"]


def test_sqlite_reads_children_from_a_partial_index(tmp_path: Path) -> None:
    for backend in open_backend(f"sqlite:///{tmp_path}/state.db"):
        assert isinstance(backend, SqliteStateBackend)
        with backend._connection() as conn:
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT invocation_id FROM pynenc_invocations "
                "WHERE app_id = ? AND parent_id = ? ORDER BY rowid LIMIT ?",
                ("a", "p", 1),
            ).fetchall()
            (sql,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'pynenc_invocations_by_parent'"
            ).fetchone()
        assert "USING INDEX pynenc_invocations_by_parent" in plan[0][3], plan
        assert "TEMP B-TREE" not in str(plan)  # rowid order comes with the index
        assert sql.endswith("WHERE parent_id IS NOT NULL")  # top-level calls add no entry


def test_sqlite_file_without_the_children_index_gains_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    backend = create_state_backend(url, "app")
    parent = "p-1"
    child = child_of(parent)
    backend.register([child], time.time())
    backend.close()
    with closing(sqlite3.connect(tmp_path / "old.db")) as conn:
        conn.execute("DROP INDEX pynenc_invocations_by_parent")  # as an older pynenc made it
        conn.commit()
    reopened = create_state_backend(url, "app")
    try:
        assert reopened.children(parent, 10) == [child.invocation_id]
        with closing(sqlite3.connect(tmp_path / "old.db")) as conn:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "pynenc_invocations_by_parent" in names
    finally:
        reopened.close()
