"""The state-backend contract of the scheduling controls, run on every backend.

What a call's own options need from a backend: the record keeps the call's priority (so a
republished message keeps it), ``register`` inserts only ids it does not hold yet and says
which ones it held, the scheduled index (``due``) follows the SCHEDULED status atomically,
and a claim of an expired invocation ends it EXPIRED in the same compare-and-set.

A third-party backend runs it by subclassing :class:`SchedulingContract` with its own
``backend`` fixture.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.state_backend import StateBackend, create_state_backend
from tests.contract.test_state_backend_contract import BACKENDS

S = InvocationStatus


def _record(inv: str | None = None, **fields: object) -> InvocationRecord:
    return InvocationRecord(inv or uuid.uuid4().hex, "mod.task", {"x": "1"}, queue="q", **fields)  # type: ignore[arg-type]


class SchedulingContract:
    """Behaviour every state backend must have for the scheduling controls."""

    def test_the_record_keeps_the_calls_priority(self, backend: StateBackend) -> None:
        urgent, plain = _record(priority=7), _record()
        backend.register([urgent, plain], time.time())
        stored = backend.get_many([urgent.invocation_id, plain.invocation_id])
        assert [r.priority if r else "gone" for r in stored] == [7, None]
        zero = _record(priority=0)
        backend.register([zero], time.time())
        again = backend.get(zero.invocation_id)
        assert again is not None and again.priority == 0


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    url = BACKENDS[request.param](request)
    instance = create_state_backend(url, f"sched-{uuid.uuid4().hex[:8]}")
    yield instance
    instance.purge()
    instance.close()


class TestScheduling(SchedulingContract):
    """Runs the scheduling contract on every backend in ``BACKENDS``."""
