"""The log-primitives contract (:mod:`pynenc.testing.logs_contract`) on memory, SQLite and
Redis (a real server, a fresh database per test), then what is about one backend."""

from __future__ import annotations

import pytest

from pynenc.testing.logs_contract import CrossProcessLogsContract, LogsContract
from tests.contract.test_state_backend_contract import BACKENDS, CROSS_PROCESS


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
