"""The state-backend contract of the scheduling controls, as a pytest suite.

What a call's own options need from a backend: the record keeps the call's priority (so a
republished message keeps it), ``register`` inserts only ids it does not hold yet and says
which ones it held, the scheduled index (``due``) follows the SCHEDULED status atomically,
and a claim of an expired invocation ends it EXPIRED in the same compare-and-set.

Subclass :class:`SchedulingContract` with a ``backend_url`` fixture (the URL of a fresh,
empty store; its scheme registered with :func:`pynenc.state_backend.register_backend`), or
override ``backend``. Needs pytest (``pip install pynenc[testing]``).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.state_backend import StateBackend
from pynenc.testing.state_backend_contract import open_backend

S = InvocationStatus


def _record(inv: str | None = None, **fields: Any) -> InvocationRecord:
    return InvocationRecord(inv or uuid.uuid4().hex, "mod.task", {"x": "1"}, queue="q", **fields)


def _scheduled(due: float, **fields: Any) -> InvocationRecord:
    return _record(status=S.SCHEDULED, due=due, **fields)


def _move(
    inv: str,
    expected: set[InvocationStatus],
    to: InvocationStatus,
    at: float = 50.0,
    *,
    owner: str | None = None,
    expected_owner: str | None = None,
    due: float | None = None,
    expires_to: InvocationStatus | None = None,
) -> StatusUpdate:
    """An update at time ``at``; with ``expires_to``, an expiry check ending there."""
    on_expiry = None if expires_to is None else StatusEntry(expires_to, at, owner, "expired")
    return StatusUpdate(
        inv,
        frozenset(expected),
        StatusEntry(to, at, owner or expected_owner, None),
        owner=owner,
        expected_owner=expected_owner,
        due=due,
        on_expiry=on_expiry,
    )


def _status(backend: StateBackend, inv: str) -> InvocationStatus | None:
    record = backend.get(inv)
    return None if record is None else record.status


class SchedulingContract:
    """Behaviour every state backend must have for the scheduling controls."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_the_record_keeps_the_calls_priority(self, backend: StateBackend) -> None:
        urgent, plain = _record(priority=7), _record()
        backend.register([urgent, plain], time.time())
        stored = backend.get_many([urgent.invocation_id, plain.invocation_id])
        assert [r.priority if r else "gone" for r in stored] == [7, None]
        zero = _record(priority=0)
        backend.register([zero], time.time())
        again = backend.get(zero.invocation_id)
        assert again is not None and again.priority == 0

    # -- register: insert only when absent --------------------------------------------------

    def test_register_inserts_only_ids_it_does_not_hold(self, backend: StateBackend) -> None:
        first = _record("chosen-id")
        assert backend.register([first], 10.0) == [True]
        backend.set_status(_move("chosen-id", {S.REGISTERED}, S.RUNNING, owner="r"))
        other = InvocationRecord("chosen-id", "mod.other", {"y": "2"})
        fresh = _record()
        assert backend.register([other, fresh], 20.0) == [False, True]
        stored = backend.get("chosen-id")
        assert stored is not None
        assert stored.task_id == "mod.task" and stored.arguments == {"x": "1"}
        assert stored.status is S.RUNNING and stored.owner == "r"
        assert [e.status for e in backend.history("chosen-id")] == [S.REGISTERED, S.RUNNING]
        assert backend.history("chosen-id")[0].timestamp == 10.0
        assert backend.get(fresh.invocation_id) is not None
        assert sorted(backend.find(task_id="mod.task")) == sorted(
            ["chosen-id", fresh.invocation_id]
        )
        assert backend.find(task_id="mod.other") == []
        assert backend.register([], 30.0) == []

    def test_one_of_concurrent_registrations_of_an_id_wins(self, backend: StateBackend) -> None:
        barrier = threading.Barrier(8)
        results: list[bool] = []

        def register(i: int) -> None:
            barrier.wait()
            results.extend(backend.register([_record("same", owner=None, num_retries=i)], 1.0))

        threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 7 + [True]
        assert len(backend.history("same")) == 1

    # -- the scheduled index ----------------------------------------------------------------

    def test_scheduled_records_wait_in_the_index_by_due_time(self, backend: StateBackend) -> None:
        late, early, plain = _scheduled(300.0), _scheduled(100.0), _record()
        backend.register([late, early, plain], 1.0)
        assert backend.due(99.0, 10) == []
        assert backend.due(100.0, 10) == [(early.invocation_id, 100.0)]
        assert backend.due(math.inf, 10) == [
            (early.invocation_id, 100.0),
            (late.invocation_id, 300.0),
        ]
        assert backend.due(math.inf, 1) == [(early.invocation_id, 100.0)]
        stored = backend.get(late.invocation_id)
        assert stored is not None and stored.status is S.SCHEDULED and stored.due == 300.0
        assert sorted(backend.find(statuses=[S.SCHEDULED])) == sorted(
            [late.invocation_id, early.invocation_id]
        )
        assert backend.find(statuses=[S.REGISTERED]) == [plain.invocation_id]
        [summary] = backend.recent(1, statuses=[S.SCHEDULED], task_id="mod.task", queue="q")[:1]
        assert summary.due in (100.0, 300.0)

    def test_a_scheduled_record_without_due_is_due_at_registration(
        self, backend: StateBackend
    ) -> None:
        record = _record(status=S.SCHEDULED)
        backend.register([record], 42.0)
        assert backend.due(math.inf, 10) == [(record.invocation_id, 42.0)]

    def test_leaving_scheduled_leaves_the_index(self, backend: StateBackend) -> None:
        record = _scheduled(100.0)
        inv = record.invocation_id
        backend.register([record], 1.0)
        assert not backend.set_status(_move(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        assert backend.set_status(_move(inv, {S.SCHEDULED}, S.REGISTERED, at=100.5))
        assert backend.due(math.inf, 10) == []
        assert _status(backend, inv) is S.REGISTERED
        assert [e.status for e in backend.history(inv)] == [S.SCHEDULED, S.REGISTERED]

    def test_a_delayed_retry_enters_the_index(self, backend: StateBackend) -> None:
        record = _record()
        inv = record.invocation_id
        backend.register([record], 1.0)
        backend.set_status(_move(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        retry = StatusUpdate(
            inv,
            frozenset({S.RUNNING}),
            StatusEntry(S.SCHEDULED, 60.0, "r", "retry 1 due at 90"),
            expected_owner="r",
            num_retries=1,
            due=90.0,
        )
        assert backend.set_status(retry)
        stored = backend.get(inv)
        assert stored is not None
        assert (stored.status, stored.due, stored.num_retries, stored.owner) == (
            S.SCHEDULED,
            90.0,
            1,
            None,
        )
        assert backend.due(89.0, 10) == [] and backend.due(90.0, 10) == [(inv, 90.0)]
        assert backend.history(inv)[-1].reason == "retry 1 due at 90"
        assert backend.set_status(_move(inv, {S.SCHEDULED}, S.RETRY, at=90.0))
        assert backend.due(math.inf, 10) == []
        stored = backend.get(inv)
        assert stored is not None and stored.due == 90.0  # kept: when it was last due

    def test_one_of_concurrent_releases_wins(self, backend: StateBackend) -> None:
        """Two services holders publishing the same due invocation: one compare-and-set
        wins, so it is published once."""
        record = _scheduled(10.0)
        backend.register([record], 1.0)
        barrier = threading.Barrier(6)
        wins: list[bool] = []

        def release(actor: str) -> None:
            update = _move(record.invocation_id, {S.SCHEDULED}, S.REGISTERED, owner=actor)
            barrier.wait()
            wins.append(backend.set_status(replace(update, owner=None)))

        threads = [threading.Thread(target=release, args=(f"r{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(wins) == [False] * 5 + [True]

    def test_purge_empties_the_index(self, backend: StateBackend) -> None:
        backend.register([_scheduled(10.0)], 1.0)
        backend.purge()
        assert backend.due(math.inf, 10) == []

    # -- expiry -----------------------------------------------------------------------------

    def test_a_claim_after_the_expiry_ends_it_expired(self, backend: StateBackend) -> None:
        record = _record(expires=100.0)
        inv = record.invocation_id
        backend.register([record], 1.0)
        woke = threading.Event()

        def wait() -> None:
            if backend.wait_final(inv, 30):
                woke.set()

        waiter = threading.Thread(target=wait)
        waiter.start()
        claim = _move(inv, {S.REGISTERED}, S.RUNNING, at=100.0, owner="r", expires_to=S.EXPIRED)
        assert backend.set_status(claim) is False
        waiter.join(30)
        assert woke.is_set()
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.EXPIRED and stored.owner is None
        assert [e.status for e in backend.history(inv)] == [S.REGISTERED, S.EXPIRED]
        assert backend.history(inv)[-1].reason == "expired"
        # final: a later claim is refused and changes nothing
        again = _move(inv, {S.REGISTERED}, S.RUNNING, at=200.0, owner="r", expires_to=S.EXPIRED)
        assert backend.set_status_many([again]) == [False]
        assert len(backend.history(inv)) == 2

    def test_a_claim_before_the_expiry_runs(self, backend: StateBackend) -> None:
        expiring, lasting = _record(expires=100.0), _record()
        backend.register([expiring, lasting], 1.0)
        claims = [
            _move(
                r.invocation_id, {S.REGISTERED}, S.RUNNING, at=99.9, owner="r", expires_to=S.EXPIRED
            )
            for r in (expiring, lasting)
        ]
        assert backend.set_status_many(claims) == [True, True]
        assert _status(backend, expiring.invocation_id) is S.RUNNING

    def test_the_expiry_is_checked_only_when_asked(self, backend: StateBackend) -> None:
        record = _record(expires=100.0)
        backend.register([record], 1.0)
        assert backend.set_status(_move(record.invocation_id, {S.REGISTERED}, S.RUNNING, 500.0))
        assert _status(backend, record.invocation_id) is S.RUNNING

    def test_a_refused_claim_does_not_expire(self, backend: StateBackend) -> None:
        """The expiry applies only where the claim's expectations hold: an invocation
        another runner is running is left alone."""
        record = _record(expires=100.0)
        inv = record.invocation_id
        backend.register([record], 1.0)
        assert backend.set_status(_move(inv, {S.REGISTERED}, S.RUNNING, at=50.0, owner="a"))
        late = _move(inv, {S.REGISTERED}, S.RUNNING, at=150.0, owner="b", expires_to=S.EXPIRED)
        assert backend.set_status(late) is False
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.RUNNING and stored.owner == "a"

    def test_a_scheduled_invocation_expires_when_released_late(self, backend: StateBackend) -> None:
        both = [_scheduled(10.0, expires=20.0), _scheduled(10.0, expires=30.0)]
        backend.register(both, 1.0)
        releases = [
            _move(r.invocation_id, {S.SCHEDULED}, S.REGISTERED, at=25.0, expires_to=S.EXPIRED)
            for r in both
        ]
        assert backend.set_status_many(releases) == [False, True]
        assert [_status(backend, r.invocation_id) for r in both] == [S.EXPIRED, S.REGISTERED]
        assert backend.due(math.inf, 10) == []
        assert backend.find(statuses=[S.EXPIRED]) == [both[0].invocation_id]
        assert backend.wait_final(both[0].invocation_id, timeout=1)
        stored = backend.get(both[0].invocation_id)
        assert stored is not None and stored.expires == 20.0
