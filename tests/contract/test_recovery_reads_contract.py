"""The recovery-reads contract (:mod:`pynenc.testing.recovery_reads_contract`) on memory,
SQLite and Redis (a fresh database of the session server per test).

``get_many`` and ``history_many`` read many invocations in a few round trips, and
recovery (``Orchestrator.recover``, ``release_owned``, ``redeliver_stale``,
``reroute_many``) never reads one invocation at a time. A backend that keeps the base
class's ``get_many``/``history_many`` (one read per id) passes too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pynenc.orchestrator import recovery
from pynenc.state_backend import BACKENDS as SCHEMES
from pynenc.state_backend import StateBackend, register_backend
from pynenc.state_backend.memory import MemoryStateBackend
from pynenc.testing.recovery_reads_contract import RecoveryReadsContract
from tests.contract.test_state_backend_contract import BACKENDS


class TestRecoveryReads(RecoveryReadsContract):
    """Runs the recovery-reads contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


class DefaultReadsBackend(MemoryStateBackend):
    """The memory backend with the base class's batched reads: a ``get``/``history`` per id."""

    get_many = StateBackend.get_many
    history_many = StateBackend.history_many


@pytest.fixture(scope="module")
def _default_reads_scheme() -> Iterator[None]:
    register_backend("defaultreads", f"{__name__}:DefaultReadsBackend")
    yield
    del SCHEMES["defaultreads"]


@pytest.mark.usefixtures("_default_reads_scheme")
class TestDefaultBatchedReads(RecoveryReadsContract):
    @pytest.fixture
    def backend_url(self) -> str:
        return "defaultreads://"


def test_batches_are_bounded() -> None:
    assert [len(c) for c in recovery.chunks(list(range(2500)))] == [1000, 1000, 500]
