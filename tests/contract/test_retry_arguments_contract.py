"""The retry-arguments contract (:mod:`pynenc.testing.retry_arguments_contract`) on memory,
SQLite and Redis (a real server, a fresh database per test)."""

from __future__ import annotations

import pytest

from pynenc.testing.retry_arguments_contract import RetryArgumentsContract
from tests.contract.test_state_backend_contract import BACKENDS


class TestRetryArguments(RetryArgumentsContract):
    """Runs the retry-arguments contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)
