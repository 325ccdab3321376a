"""The limits contract (:mod:`pynenc.testing.limits_contract`) on memory, SQLite and Redis:
the concurrency-control and rate-limit primitives, on every backend and, for the backends
processes share, across processes."""

from __future__ import annotations

import pytest

from pynenc.testing.limits_contract import CrossProcessLimitsContract, LimitsContract
from tests.contract.test_state_backend_contract import BACKENDS, CROSS_PROCESS


class TestLimits(LimitsContract):
    """Runs the limits contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


class TestSharedLimits(CrossProcessLimitsContract):
    """Runs the several-process limits contract on every backend in ``CROSS_PROCESS``."""

    @pytest.fixture(params=CROSS_PROCESS)
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)
