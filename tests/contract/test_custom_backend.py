"""A third party's backend runs the shipped contract: what a user of ``pynenc.testing`` writes.

Two tiny backends registered under schemes of their own with ``register_backend``: one
derived from the memory backend (the single-process contract) and one from the SQLite
backend (also the several-process contract, whose spawned children must find the scheme).
"""

from __future__ import annotations

from typing import Any

import pytest

from pynenc.records import InvocationRecord
from pynenc.state_backend import BACKENDS, create_state_backend, register_backend
from pynenc.state_backend.memory import MemoryStateBackend
from pynenc.state_backend.sqlite import SqliteStateBackend
from pynenc.testing.limits_contract import CrossProcessLimitsContract, LimitsContract
from pynenc.testing.scheduling_contract import SchedulingContract
from pynenc.testing.state_backend_contract import StateBackendContract
from pynenc.testing.state_backend_cross_process import CrossProcessStateBackendContract


class CountingBackend(MemoryStateBackend):
    """The memory backend, counting the invocations it registered."""

    def __init__(self, app_id: str, url: str) -> None:
        super().__init__(app_id, url)
        self.registered = 0

    def register(self, records: Any, entry_time: float) -> list[bool]:
        self.registered += len(records)
        return super().register(records, entry_time)


class FileBackend(SqliteStateBackend):
    """SQLite under a scheme of its own: ``files:///path.db``."""

    def __init__(self, app_id: str, url: str) -> None:
        super().__init__(app_id, "sqlite" + url.removeprefix("files"))
        self.url = url  # what the several-process contract hands its children


@pytest.fixture(autouse=True, scope="module")
def _schemes() -> Any:
    register_backend("counting", f"{__name__}:CountingBackend")
    register_backend("files", f"{__name__}:FileBackend")
    yield
    del BACKENDS["counting"], BACKENDS["files"]


class TestCountingBackend(StateBackendContract):
    @pytest.fixture
    def backend_url(self) -> str:
        return "counting://"


class TestFileBackend(CrossProcessStateBackendContract):
    @pytest.fixture
    def backend_url(self, tmp_path: Any) -> str:
        return f"files:///{tmp_path}/state.db"


class TestCountingBackendLimits(LimitsContract):
    @pytest.fixture
    def backend_url(self) -> str:
        return "counting://"


class TestCountingBackendScheduling(SchedulingContract):
    @pytest.fixture
    def backend_url(self) -> str:
        return "counting://"


class TestFileBackendLimits(CrossProcessLimitsContract):
    @pytest.fixture
    def backend_url(self, tmp_path: Any) -> str:
        return f"files:///{tmp_path}/state.db"


def test_the_contract_ran_on_the_custom_class() -> None:
    backend = create_state_backend("counting://", "custom")
    assert isinstance(backend, CountingBackend)
    backend.register([InvocationRecord("i", "mod.task", {})], 1.0)
    assert backend.registered == 1
    backend.purge()
