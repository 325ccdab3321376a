"""The state-backend contract: every backend passes the same tests.

Add a backend to ``BACKEND_URLS`` (or subclass :class:`StateBackendContract` with your
own ``backend`` fixture) to run it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from pynenc.invocation.status import InvocationStatus
from pynenc.state_backend import (
    InvocationRecord,
    StateBackend,
    StatusEntry,
    StatusUpdate,
    create_state_backend,
)

S = InvocationStatus
BACKEND_URLS = ["memory://"]


def _record(task: str = "mod.task", inv: str | None = None) -> InvocationRecord:
    return InvocationRecord(inv or uuid.uuid4().hex, task, {"x": "1"}, queue="q")


def _update(
    inv: str,
    expected: set[InvocationStatus],
    to: InvocationStatus,
    *,
    owner: str | None = None,
    expected_owner: str | None = None,
    **outcome: object,
) -> StatusUpdate:
    return StatusUpdate(
        inv,
        frozenset(expected),
        StatusEntry(to, time.time(), owner or expected_owner, None),
        owner=owner,
        expected_owner=expected_owner,
        **outcome,  # type: ignore[arg-type]
    )


class StateBackendContract:
    """Behaviour every state backend must have."""

    def test_register_and_get(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        stored = backend.get(record.invocation_id)
        assert stored is not None
        assert stored.status is S.REGISTERED
        assert stored.arguments == {"x": "1"}
        assert stored.task_id == "mod.task" and stored.queue == "q"
        assert backend.get("unknown") is None

    def test_get_returns_a_copy(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        stored = backend.get(record.invocation_id)
        assert stored is not None
        stored.status = S.SUCCESS
        again = backend.get(record.invocation_id)
        assert again is not None and again.status is S.REGISTERED

    def test_compare_and_set(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        assert backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1"))
        assert not backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r2"))
        stored = backend.get(inv)
        assert stored is not None and stored.owner == "r1"

    def test_owner_is_checked(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1"))
        assert not backend.set_status(
            _update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r2", result="1")
        )
        assert backend.set_status(
            _update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r1", result="1")
        )
        stored = backend.get(inv)
        assert stored is not None
        assert stored.status is S.SUCCESS and stored.result == "1" and stored.owner is None

    def test_error_and_retries_stored(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        backend.set_status(_update(inv, {S.RUNNING}, S.RETRY, expected_owner="r", num_retries=1))
        backend.set_status(_update(inv, {S.RETRY}, S.RUNNING, owner="r"))
        error = {"type": "builtins.ValueError", "message": "x", "args": [], "traceback": ""}
        backend.set_status(_update(inv, {S.RUNNING}, S.FAILED, expected_owner="r", error=error))
        stored = backend.get(inv)
        assert stored is not None
        assert stored.error == error and stored.num_retries == 1

    def test_history_in_order_with_runner(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], 1.0)
        inv = record.invocation_id
        backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r9"))
        history = backend.history(inv)
        assert [e.status for e in history] == [S.REGISTERED, S.RUNNING]
        assert history[0].timestamp == 1.0
        assert history[1].runner_id == "r9"

    def test_wait_final_wakes_on_completion(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        woke = threading.Event()

        def waiter() -> None:
            if backend.wait_final(inv, timeout=10):
                woke.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        assert not woke.wait(0.05)
        backend.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r", result="1"))
        thread.join(10)
        assert woke.is_set()

    def test_wait_final_times_out(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        assert backend.wait_final(record.invocation_id, timeout=0.01) is False

    def test_find_by_task_and_status(self, backend: StateBackend) -> None:
        a, b = _record("mod.a"), _record("mod.b")
        backend.register([a, b], time.time())
        backend.set_status(_update(b.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"))
        assert backend.find(task_id="mod.a") == [a.invocation_id]
        assert backend.find(statuses=[S.RUNNING]) == [b.invocation_id]
        assert sorted(backend.find()) == sorted([a.invocation_id, b.invocation_id])

    def test_heartbeats(self, backend: StateBackend) -> None:
        backend.heartbeat("r1", 10.0)
        backend.heartbeat("r2", 11.0)
        backend.heartbeat("r1", 12.5)
        assert backend.runners() == {"r1": 12.5, "r2": 11.0}
        backend.forget_runner("r1")
        assert backend.runners() == {"r2": 11.0}

    def test_lease_has_one_holder_until_it_expires(self, backend: StateBackend) -> None:
        assert backend.acquire_lease("services", "a", ttl=10, now=100)
        assert not backend.acquire_lease("services", "b", ttl=10, now=105)
        assert backend.acquire_lease("services", "a", ttl=10, now=105)  # renewal
        assert not backend.acquire_lease("services", "b", ttl=10, now=114)
        assert backend.acquire_lease("services", "b", ttl=10, now=115.5)  # a's expired
        assert backend.acquire_lease("other", "c", ttl=1, now=115.5)  # leases are by name

    def test_recovery_takes_over_from_a_named_owner(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="dead"))
        assert not backend.set_status(_update(inv, {S.RUNNING}, S.REROUTED, expected_owner="x"))
        assert backend.set_status(_update(inv, {S.RUNNING}, S.REROUTED, expected_owner="dead"))
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.REROUTED and stored.owner is None

    def test_purge(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        backend.heartbeat("r", 1.0)
        backend.purge()
        assert backend.get(record.invocation_id) is None
        assert backend.find() == []
        assert backend.runners() == {}

    def test_concurrent_claims_have_one_winner(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        wins: list[str] = []
        barrier = threading.Barrier(8)

        def claim(name: str) -> None:
            barrier.wait()
            update = _update(record.invocation_id, {S.REGISTERED}, S.RUNNING, owner=name)
            if backend.set_status(update):
                wins.append(name)

        threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1


@pytest.fixture(params=BACKEND_URLS)
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    instance = create_state_backend(request.param, f"contract-{uuid.uuid4().hex[:8]}")
    yield instance
    instance.purge()
    instance.close()


class TestStateBackends(StateBackendContract):
    """Runs the contract on every backend in ``BACKEND_URLS``."""
