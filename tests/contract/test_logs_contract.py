"""The log-primitives contract (:mod:`pynenc.testing.logs_contract`) on memory, SQLite and
Redis (a real server, a fresh database per test), then what is about one backend."""

from __future__ import annotations

import pytest

from pynenc.state_backend import create_state_backend
from pynenc.state_backend.redis import RedisStateBackend
from pynenc.testing.logs_contract import CrossProcessLogsContract, LogsContract
from tests.contract.test_state_backend_contract import BACKENDS, CROSS_PROCESS
from tests.servers import Server


class TestLogs(LogsContract):
    """Runs the logs contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


class TestSharedLogs(CrossProcessLogsContract):
    """Runs the several-process logs contract on every backend in ``CROSS_PROCESS``."""

    @pytest.fixture(params=CROSS_PROCESS)
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


def test_redis_numbers_past_1e14_stay_integers(redis_server: Server) -> None:
    """Lua formats a large number as ``1e+14``; the member's number must stay digits."""
    backend = create_state_backend(redis_server.db_url(), "logs-big-numbers")
    try:
        assert isinstance(backend, RedisStateBackend)
        start = 10**14 - 2
        backend._call(lambda client: client.set(f"{backend.prefix}log:big:last", start))
        got = [backend.append_log("big", f"v{i}", 3) for i in range(4)]
        assert got == [start + 1, start + 2, start + 3, start + 4]
        assert backend.read_log("big", start + 1, 10) == [
            (start + 2, "v1"),
            (start + 3, "v2"),
            (start + 4, "v3"),
        ]
    finally:
        backend.purge()
        backend.close()
