"""The value-primitives contract (:mod:`pynenc.testing.values_contract`) on memory, SQLite
and Redis (a real server, a fresh database per test)."""

from __future__ import annotations

import pytest

from pynenc.testing.values_contract import CrossProcessValuesContract, ValuesContract
from tests.contract.test_state_backend_contract import BACKENDS, CROSS_PROCESS


class TestValues(ValuesContract):
    """Runs the values contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


class TestSharedValues(CrossProcessValuesContract):
    """Runs the several-process values contract on every backend in ``CROSS_PROCESS``."""

    @pytest.fixture(params=CROSS_PROCESS)
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)
