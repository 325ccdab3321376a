"""``get_many_in_status`` on memory, SQLite and Redis (a real server, a fresh database per
test), and on the base class's default: the records in one status, whole, in order;
``None`` for the others and the unknown."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from pynenc.records import InvocationStatus, Links
from pynenc.state_backend import BACKENDS as SCHEMES
from pynenc.state_backend import register_backend
from pynenc.state_backend.base import StateBackend
from pynenc.state_backend.memory import MemoryStateBackend
from pynenc.testing.state_backend_contract import open_backend, sample_record, sample_update
from tests.contract.test_state_backend_contract import BACKENDS

S = InvocationStatus


class DefaultReadsBackend(MemoryStateBackend):
    """The memory backend answering with the base class's default (whole reads)."""

    get_many_in_status = StateBackend.get_many_in_status


@pytest.fixture(scope="module")
def _default_scheme() -> Iterator[None]:
    register_backend("defaultreads", f"{__name__}:DefaultReadsBackend")
    yield
    del SCHEMES["defaultreads"]


@pytest.fixture(params=[*BACKENDS, "default"])
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    if request.param == "default":
        request.getfixturevalue("_default_scheme")
        url = "defaultreads://"
    else:
        url = BACKENDS[request.param](request)
    yield from open_backend(url)


def test_only_the_records_in_the_status_are_given(backend: StateBackend) -> None:
    plain = sample_record()
    scheduled = replace(sample_record("mod.other"), status=S.SCHEDULED, due=50.0, priority=3)
    many = tuple(uuid.uuid4().hex for _ in range(50))  # a chord body's links
    waiting = replace(sample_record(), status=S.WAITING, links=Links(after=many))
    backend.register([plain, scheduled, waiting], time.time())
    ids = [plain.invocation_id, "unknown", scheduled.invocation_id, waiting.invocation_id]
    found = backend.get_many_in_status(ids, S.SCHEDULED)
    assert found[0] is None and found[1] is None and found[3] is None
    assert found[2] == backend.get(scheduled.invocation_id)
    assert found[2] is not None and found[2].task_id == "mod.other" and found[2].priority == 3
    (registered, *_) = backend.get_many_in_status(ids, S.REGISTERED)
    assert registered == backend.get(plain.invocation_id)
    assert backend.get_many_in_status(ids, S.WAITING)[3] == backend.get(waiting.invocation_id)
    assert backend.get_many_in_status([], S.SCHEDULED) == []


def test_a_status_change_is_seen(backend: StateBackend) -> None:
    record = sample_record()
    backend.register([record], time.time())
    inv = record.invocation_id
    backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
    assert backend.get_many_in_status([inv], S.REGISTERED) == [None]
    (running,) = backend.get_many_in_status([inv], S.RUNNING)
    assert running is not None and running.owner == "r"


def test_many_ids_are_read_in_chunks(backend: StateBackend) -> None:
    records = [sample_record() for _ in range(1203)]
    backend.register(records, time.time())
    ids = [r.invocation_id for r in records]
    found = backend.get_many_in_status(ids, S.REGISTERED)
    assert [r.invocation_id if r else None for r in found] == ids
