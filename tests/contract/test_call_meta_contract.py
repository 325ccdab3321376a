"""The per-call fields contract (:mod:`pynenc.testing.call_meta_contract`) on memory,
SQLite and Redis (a real server, a fresh database per test), and a SQLite file of an older
pynenc gaining the column that holds them."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from pynenc.state_backend import create_state_backend
from pynenc.testing.call_meta_contract import CallMetaContract, meta_record
from pynenc.testing.state_backend_contract import sample_record
from tests.contract.test_state_backend_contract import BACKENDS


class TestCallMeta(CallMetaContract):
    """Runs the contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


def test_sqlite_file_without_the_meta_column_gains_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE pynenc_invocations (app_id TEXT NOT NULL, invocation_id TEXT NOT NULL, "
        "task_id TEXT NOT NULL, status TEXT NOT NULL, owner TEXT, num_retries INTEGER NOT "
        "NULL, parent_id TEXT, queue TEXT NOT NULL, arguments TEXT NOT NULL, result TEXT, "
        "error TEXT, fingerprint TEXT, priority INTEGER, due REAL, expires REAL, "
        "PRIMARY KEY (app_id, invocation_id))"
    )
    conn.execute(
        "INSERT INTO pynenc_invocations (app_id, invocation_id, task_id, status, num_retries, "
        "queue, arguments) VALUES ('app', 'old', 'mod.task', 'registered', 0, 'q', "
        '\'{"x": "1"}\')'
    )
    conn.commit()
    conn.close()
    backend = create_state_backend(f"sqlite:///{path}", "app")
    try:
        old = backend.get("old")
        assert old is not None
        assert (old.serializer, old.headers, old.root_id) == (None, None, None)
        new = meta_record()
        plain = sample_record()
        backend.register([new, plain], time.time())
        stored = backend.get(new.invocation_id)
        assert stored is not None
        assert (stored.serializer, stored.headers, stored.root_id) == (
            new.serializer,
            new.headers,
            new.root_id,
        )
        with closing(sqlite3.connect(path)) as reader:
            (column,) = reader.execute(
                "SELECT meta FROM pynenc_invocations WHERE invocation_id = ?",
                (plain.invocation_id,),
            ).fetchone()
        assert column is None  # a plain call stores nothing
    finally:
        backend.close()
