"""The history-trim contract (:mod:`pynenc.testing.history_trim_contract`) on memory,
SQLite and Redis (a real server, a fresh database per test)."""

from __future__ import annotations

import pytest

from pynenc.testing.history_trim_contract import HistoryTrimContract
from tests.contract.test_state_backend_contract import BACKENDS


class TestHistoryTrim(HistoryTrimContract):
    """Runs the history-trim contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)
