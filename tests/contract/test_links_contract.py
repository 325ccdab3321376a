"""The composition contract (:mod:`pynenc.testing.links_contract`) on memory, SQLite and
Redis (a real server, a fresh database per test)."""

from __future__ import annotations

import pytest

from pynenc.testing.links_contract import LinksContract
from tests.contract.test_state_backend_contract import BACKENDS


class TestLinks(LinksContract):
    """Runs the composition contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)
