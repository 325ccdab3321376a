"""The state-backend contract: behaviour every state backend must have, as a pytest suite.

Run it against a backend by subclassing :class:`StateBackendContract` in a test module and
giving it a ``backend_url`` fixture (the URL of a fresh, empty store; its scheme registered
with :func:`pynenc.state_backend.register_backend`)::

    import pytest
    from pynenc.state_backend import register_backend
    from pynenc.testing.state_backend_contract import StateBackendContract

    register_backend("mystore", "mypackage.backend:MyStateBackend")

    class TestMyStore(StateBackendContract):
        @pytest.fixture
        def backend_url(self, tmp_path):
            return f"mystore:///{tmp_path}/state"

Each test gets a backend built by :func:`~pynenc.state_backend.create_state_backend` for an
app id of its own, purged and closed after the test. To build the backend another way,
override the ``backend`` fixture instead (it yields a :class:`StateBackend`). A backend that
declares ``capabilities.cross_process`` also runs
:class:`~pynenc.testing.state_backend_cross_process.CrossProcessStateBackendContract`.

Needs pytest (``pip install pynenc[testing]``); ``import pynenc`` never imports this module.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from pynenc.records import (
    InvocationRecord,
    InvocationStatus,
    StatusEntry,
    StatusUpdate,
    fingerprint,
)
from pynenc.state_backend import StateBackend, create_state_backend

S = InvocationStatus


def sample_record(task: str = "mod.task", inv: str | None = None) -> InvocationRecord:
    """A record of ``task`` with one argument ``x`` on queue ``q`` (a fresh id by default)."""
    return InvocationRecord(inv or uuid.uuid4().hex, task, {"x": "1"}, queue="q")


def sample_update(
    inv: str,
    expected: set[InvocationStatus],
    to: InvocationStatus,
    *,
    owner: str | None = None,
    expected_owner: str | None = None,
    **outcome: object,
) -> StatusUpdate:
    """A compare-and-set of ``inv`` from one of ``expected`` to ``to``, entered now.

    ``outcome`` holds the other :class:`StatusUpdate` fields (``result``, ``error``,
    ``num_retries``, ``expected_task``, ``expected_fingerprint``).
    """
    return StatusUpdate(
        inv,
        frozenset(expected),
        StatusEntry(to, time.time(), owner or expected_owner, None),
        owner=owner,
        expected_owner=expected_owner,
        **outcome,  # type: ignore[arg-type]
    )


def open_backend(url: str) -> Iterator[StateBackend]:
    """Yield the backend at ``url`` for a fresh app id; purge and close it afterwards.

    The body of the contracts' ``backend`` fixture, for suites of one's own."""
    instance = create_state_backend(url, f"contract-{uuid.uuid4().hex[:8]}")
    try:
        yield instance
    finally:
        instance.purge()
        instance.close()


def check_recent(backend: StateBackend) -> None:
    """``recent``: newest registration first, every filter, the limit (on an empty backend)."""
    old, mid, new = sample_record("mod.a"), sample_record("mod.b"), sample_record("mod.a")
    other_queue = InvocationRecord(uuid.uuid4().hex, "mod.a", {}, queue="other")
    backend.register([old], 100.0)
    backend.register([mid], 200.0)
    backend.register([new, other_queue], 300.0)
    backend.set_status(sample_update(mid.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"))
    newest = backend.recent(2, queue="q")
    assert [s.invocation_id for s in newest] == [new.invocation_id, mid.invocation_id]
    assert newest[0].registered == 300.0 and newest[0].task_id == "mod.a"
    assert newest[1].status is S.RUNNING and newest[1].queue == "q"
    assert len(backend.recent(10)) == 4
    by_task = backend.recent(10, task_id="mod.a", queue="q")
    assert [s.invocation_id for s in by_task] == [new.invocation_id, old.invocation_id]
    running = backend.recent(10, statuses=[S.RUNNING])
    assert [s.invocation_id for s in running] == [mid.invocation_id]
    assert [s.invocation_id for s in backend.recent(10, queue="other")] == [
        other_queue.invocation_id
    ]
    assert backend.recent(10, task_id="mod.none") == []
    assert backend.recent(10, statuses=[]) == []


class StateBackendContract:
    """Behaviour every state backend must have; subclass it with a ``backend_url`` fixture
    (or override ``backend``). Each test starts on an empty store of its own app id."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_register_and_get(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        stored = backend.get(record.invocation_id)
        assert stored is not None
        assert stored.status is S.REGISTERED
        assert stored.arguments == {"x": "1"}
        assert stored.task_id == "mod.task" and stored.queue == "q"
        assert backend.get("unknown") is None

    def test_get_returns_a_copy(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        stored = backend.get(record.invocation_id)
        assert stored is not None
        stored.status = S.SUCCESS
        again = backend.get(record.invocation_id)
        assert again is not None and again.status is S.REGISTERED

    def test_compare_and_set(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        assert backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1"))
        assert not backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r2"))
        stored = backend.get(inv)
        assert stored is not None and stored.owner == "r1"

    def test_owner_is_checked(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1"))
        assert not backend.set_status(
            sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r2", result="1")
        )
        assert backend.set_status(
            sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r1", result="1")
        )
        stored = backend.get(inv)
        assert stored is not None
        assert stored.status is S.SUCCESS and stored.result == "1" and stored.owner is None

    def test_claim_checks_the_stored_task_and_arguments(self, backend: StateBackend) -> None:
        """A claim naming another task or other arguments (a forged message) is refused
        and leaves the record as it was; the genuine claim then succeeds."""
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        genuine = fingerprint({"x": "1"})
        forged = [
            {"expected_task": "mod.other", "expected_fingerprint": genuine},
            {"expected_task": "mod.task", "expected_fingerprint": fingerprint({"x": "2"})},
            {"expected_task": "mod.task", "expected_fingerprint": fingerprint({"y": "1"})},
        ]
        for checks in forged:
            assert backend.set_status_many(
                [sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1", **checks)]
            ) == [False]
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.REGISTERED and stored.owner is None
        assert stored.task_id == "mod.task" and stored.arguments == {"x": "1"}
        assert [e.status for e in backend.history(inv)] == [S.REGISTERED]
        checks = {"expected_task": "mod.task", "expected_fingerprint": genuine}
        assert backend.set_status(
            sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1", **checks)
        )

    def test_error_and_retries_stored(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        backend.set_status(
            sample_update(inv, {S.RUNNING}, S.RETRY, expected_owner="r", num_retries=1)
        )
        backend.set_status(sample_update(inv, {S.RETRY}, S.RUNNING, owner="r"))
        error = {"type": "builtins.ValueError", "message": "x", "args": [], "traceback": ""}
        backend.set_status(
            sample_update(inv, {S.RUNNING}, S.FAILED, expected_owner="r", error=error)
        )
        stored = backend.get(inv)
        assert stored is not None
        assert stored.error == error and stored.num_retries == 1

    def test_history_in_order_with_runner(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], 1.0)
        inv = record.invocation_id
        backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r9"))
        history = backend.history(inv)
        assert [e.status for e in history] == [S.REGISTERED, S.RUNNING]
        assert history[0].timestamp == 1.0
        assert history[1].runner_id == "r9"

    def test_wait_final_wakes_on_completion(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        woke = threading.Event()

        def waiter() -> None:
            if backend.wait_final(inv, timeout=10):
                woke.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        assert not woke.wait(0.05)
        backend.set_status(
            sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r", result="1")
        )
        thread.join(10)
        assert woke.is_set()

    def test_wait_final_times_out(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        assert backend.wait_final(record.invocation_id, timeout=0.01) is False

    def test_set_status_many_applies_each_on_its_own_terms(self, backend: StateBackend) -> None:
        a, b, c = sample_record(), sample_record(), sample_record()
        backend.register([a, b, c], time.time())
        backend.set_status(sample_update(b.invocation_id, {S.REGISTERED}, S.RUNNING, owner="other"))
        applied = backend.set_status_many(
            [
                sample_update(a.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"),
                sample_update(b.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"),  # taken
                sample_update("unknown", {S.REGISTERED}, S.RUNNING, owner="r"),
                sample_update(c.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"),
            ]
        )
        assert applied == [True, False, False, True]
        owners = [
            r.owner if r else None
            for r in backend.get_many([a.invocation_id, b.invocation_id, c.invocation_id])
        ]
        assert owners == ["r", "other", "r"]
        assert backend.set_status_many([]) == []

    def test_set_status_many_records_outcomes_and_wakes(self, backend: StateBackend) -> None:
        records = [sample_record() for _ in range(5)]
        ids = [r.invocation_id for r in records]
        backend.register(records, time.time())
        backend.set_status_many(
            [sample_update(i, {S.REGISTERED}, S.RUNNING, owner="r") for i in ids]
        )
        woke = threading.Event()

        def waiter() -> None:
            if backend.wait_final_many(ids, timeout=10):
                woke.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        backend.set_status_many(
            [
                sample_update(i, {S.RUNNING}, S.SUCCESS, expected_owner="r", result=i)
                for i in ids[:4]
            ]
        )
        assert not woke.wait(0.05)  # one is still running
        backend.set_status_many(
            [sample_update(ids[4], {S.RUNNING}, S.FAILED, expected_owner="r", error={"type": "E"})]
        )
        thread.join(10)
        assert woke.is_set()
        stored = backend.get_many([*ids, "unknown"])
        assert [r.result if r else None for r in stored] == [*ids[:4], None, None]
        assert stored[4] is not None and stored[4].error == {"type": "E"}
        assert [e.status for e in backend.history(ids[0])] == [S.REGISTERED, S.RUNNING, S.SUCCESS]

    def test_wait_final_many_times_out_and_knows_unknown_ids(self, backend: StateBackend) -> None:
        done, pending = sample_record(), sample_record()
        backend.register([done, pending], time.time())
        inv = done.invocation_id
        backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        backend.set_status(
            sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r", result="1")
        )
        assert backend.wait_final_many([inv], timeout=0.01)
        assert not backend.wait_final_many([inv, pending.invocation_id], timeout=0.05)
        assert not backend.wait_final_many([inv, "unknown"], timeout=0.05)
        assert backend.wait_final_many([], timeout=0.01)

    def test_wait_final_record_returns_the_final_record(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        assert backend.wait_final_record(inv, timeout=0.01) is None
        assert backend.wait_final_record("unknown", timeout=0.01) is None
        backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        timer = threading.Timer(
            0.05,
            lambda: backend.set_status(
                sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r", result="7")
            ),
        )
        timer.start()
        final = backend.wait_final_record(inv, timeout=10)
        timer.join()
        assert final is not None and final.status is S.SUCCESS and final.result == "7"

    def test_find_by_task_and_status(self, backend: StateBackend) -> None:
        a, b = sample_record("mod.a"), sample_record("mod.b")
        backend.register([a, b], time.time())
        backend.set_status(sample_update(b.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"))
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
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="dead"))
        assert not backend.set_status(
            sample_update(inv, {S.RUNNING}, S.REROUTED, expected_owner="x")
        )
        assert backend.set_status(
            sample_update(inv, {S.RUNNING}, S.REROUTED, expected_owner="dead")
        )
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.REROUTED and stored.owner is None

    def test_purge(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        backend.heartbeat("r", 1.0)
        backend.set_runner_info("r", {"kind": "ThreadRunner"})
        assert backend.purge() == 1  # how many invocations were dropped
        assert backend.get(record.invocation_id) is None
        assert backend.find() == []
        assert backend.runners() == {}
        assert backend.runner_infos() == {}
        assert backend.recent(10) == []

    def test_recent_newest_first_filtered_and_bounded(self, backend: StateBackend) -> None:
        check_recent(backend)

    def test_runner_info_lives_as_long_as_the_heartbeat(self, backend: StateBackend) -> None:
        info = {"kind": "ThreadRunner", "queues": ["default", "q"], "slots": 4, "pid": 12}
        backend.heartbeat("r1", 10.0)
        backend.set_runner_info("r1", info)
        backend.set_runner_info("r2", {"kind": "ProcessRunner"})
        assert backend.runner_infos() == {"r1": info, "r2": {"kind": "ProcessRunner"}}
        backend.forget_runner("r1")
        assert backend.runner_infos() == {"r2": {"kind": "ProcessRunner"}}

    def test_concurrent_claims_have_one_winner(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        wins: list[str] = []
        barrier = threading.Barrier(8)

        def claim(name: str) -> None:
            barrier.wait()
            update = sample_update(record.invocation_id, {S.REGISTERED}, S.RUNNING, owner=name)
            if backend.set_status(update):
                wins.append(name)

        threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1
