"""The state-backend contract (:mod:`pynenc.testing`) on memory, SQLite and Redis.

The suites themselves ship in ``pynenc.testing`` so that third-party backends can run them
(``test_custom_backend.py`` shows how); this module runs them on the backends of
``BACKENDS`` (Redis on a real server, a fresh database per test), then the tests that are
about one backend: Redis through a server restart, SQLite files and URLs.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from pynenc.exceptions import ConfigError
from pynenc.records import fingerprint
from pynenc.state_backend import create_state_backend, redis_recent, sqlite_recent
from pynenc.testing.state_backend_contract import (
    S,
    StateBackendContract,
    check_recent,
    sample_record,
    sample_update,
)
from pynenc.testing.state_backend_cross_process import CrossProcessStateBackendContract
from tests.servers import Server

#: backend name -> its URL for one test (a fixture may be needed: a file, a server)
BACKENDS: dict[str, Callable[[pytest.FixtureRequest], str]] = {
    "memory": lambda request: "memory://",
    "sqlite": lambda request: f"sqlite:///{request.getfixturevalue('tmp_path')}/state.db",
    "redis": lambda request: str(request.getfixturevalue("redis_server").db_url()),
}
CROSS_PROCESS = ["sqlite", "redis"]
# the names this module had before the suites moved to pynenc.testing
_record, _update = sample_record, sample_update


class TestStateBackends(StateBackendContract):
    """Runs the contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


class TestSharedStateBackends(CrossProcessStateBackendContract):
    """Runs the several-process contract on every backend in ``CROSS_PROCESS``."""

    @pytest.fixture(params=CROSS_PROCESS)
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


def test_fingerprint_ignores_key_order_and_tells_arguments_apart() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1:1"}) != fingerprint({"a:1": "1"})
    assert fingerprint({"é": "1"}) != fingerprint({"e": "1"})
    assert fingerprint({}) != fingerprint({"": ""})


# -- Redis through a server restart ----------------------------------------------------------


class TestRedisRestart:
    """The Redis backend reconnects; the test server keeps no data unless told to SAVE."""

    def test_operations_work_after_a_restart(self, redis_factory: Callable[[], Server]) -> None:
        server = redis_factory()
        backend = create_state_backend(server.url, "restart")
        backend.register([_record()], time.time())
        server.restart()
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        assert backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        assert backend.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r"))
        assert backend.wait_final(inv, timeout=10)
        backend.close()

    def test_an_operation_waits_for_the_server(self, redis_factory: Callable[[], Server]) -> None:
        server = redis_factory()
        backend = create_state_backend(server.url, "outage")
        backend.get("warm-up")  # a pooled connection that the kill leaves dead
        server.kill()
        record = _record()
        thread = threading.Thread(target=backend.register, args=([record], time.time()))
        thread.start()  # retries until the server is back
        server.start()
        thread.join(30)
        assert backend.get(record.invocation_id) is not None
        backend.close()

    def test_a_waiter_survives_a_restart(self, redis_factory: Callable[[], Server]) -> None:
        import redis

        server = redis_factory()
        waiter = create_state_backend(server.url, "waits")
        finisher = create_state_backend(server.url, "waits")
        waiter.recheck_interval = 120  # type: ignore[attr-defined] # only pub/sub may wake it
        record = _record()
        finisher.register([record], time.time())
        inv = record.invocation_id
        finisher.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        woke: list[bool] = []
        thread = threading.Thread(target=lambda: woke.append(waiter.wait_final(inv, 60)))
        thread.start()
        redis.Redis.from_url(server.url).save()  # keep the record through the restart
        server.restart()
        assert finisher.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r"))
        thread.join(30)
        assert woke == [True]
        waiter.close()
        finisher.close()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite://host/x.db", "sqlite:///d/"]
)
def test_sqlite_url_must_name_a_file(url: str) -> None:
    with pytest.raises(ConfigError, match="SQLite"):
        create_state_backend(url, "app")


def test_sqlite_file_of_an_older_version_gains_fingerprints(tmp_path: Any) -> None:
    """A file made before fingerprints existed is migrated; its records stay claimable."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE pynenc_invocations (app_id TEXT NOT NULL, invocation_id TEXT NOT NULL, "
        "task_id TEXT NOT NULL, status TEXT NOT NULL, owner TEXT, num_retries INTEGER NOT "
        "NULL, parent_id TEXT, queue TEXT NOT NULL, arguments TEXT NOT NULL, result TEXT, "
        "error TEXT, PRIMARY KEY (app_id, invocation_id))"
    )
    conn.execute(
        "INSERT INTO pynenc_invocations VALUES "
        "('app', 'old', 'mod.task', 'registered', NULL, 0, NULL, 'q', '{\"x\": \"1\"}', NULL, NULL)"
    )
    conn.commit()
    conn.close()
    backend = create_state_backend(f"sqlite:///{path}", "app")
    checks = {"expected_task": "mod.task", "expected_fingerprint": fingerprint({"x": "1"})}
    assert backend.set_status(_update("old", {S.REGISTERED}, S.RUNNING, owner="r", **checks))
    backend.register([_record(inv="new")], time.time())
    forged = {**checks, "expected_fingerprint": fingerprint({"x": "2"})}
    assert not backend.set_status(_update("new", {S.REGISTERED}, S.RUNNING, owner="r", **forged))
    assert backend.set_status(_update("new", {S.REGISTERED}, S.RUNNING, owner="r", **checks))
    backend.close()


@pytest.mark.parametrize(
    ("kind", "module", "threshold"),
    [("sqlite", sqlite_recent, "RECENT_SORT_MAX"), ("redis", redis_recent, "RECENT_FROM_SETS")],
)
def test_recent_walks_newest_first_when_a_filter_matches_many(
    kind: str, module: object, threshold: str, request: pytest.FixtureRequest
) -> None:
    """Past a threshold, filtered listings walk registration order instead of an index."""
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(module, threshold, 0)
    backend = create_state_backend(BACKENDS[kind](request), f"contract-{uuid.uuid4().hex[:8]}")
    try:
        check_recent(backend)
    finally:
        backend.purge()
        backend.close()
