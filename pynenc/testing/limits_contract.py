"""The contract of the concurrency-control and rate-limit primitives, as pytest suites.

``register_exclusive`` (registration control), ``acquire_slot``/``release_slot``/
``slot_holders`` (running slots) and ``take_rate`` (the global rate limit) must behave the
same on every backend, stay atomic under threads and, for a backend that processes share,
across processes. Subclass :class:`LimitsContract` (and :class:`CrossProcessLimitsContract`
for ``capabilities.cross_process``) with a ``backend_url`` fixture, as
:mod:`pynenc.testing.state_backend_contract` says::

    class TestMyStoreLimits(LimitsContract):
        @pytest.fixture
        def backend_url(self, tmp_path):
            return f"mystore:///{tmp_path}/state"

Needs pytest (``pip install pynenc[testing]``); ``import pynenc`` never imports this module.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.state_backend import StateBackend
from pynenc.state_backend.base import RATE_RESERVATION_GRACE
from pynenc.testing.state_backend_contract import open_backend
from pynenc.testing.state_backend_cross_process import Where, _open, _where

S = InvocationStatus
PENDING = frozenset({S.REGISTERED, S.RUNNING, S.RETRY, S.REROUTED})
RUNNING = frozenset({S.RUNNING})
NOW = 1_000_000.0  #: a fixed clock for the rate limit: every answer is exact


def _record(args: dict[str, str] | None = None) -> InvocationRecord:
    return InvocationRecord(uuid.uuid4().hex, "mod.task", args or {"x": "1"}, queue="q")


def _move(backend: StateBackend, inv: str, to: InvocationStatus, owner: str = "r") -> None:
    sources = {S.RUNNING: {S.REGISTERED, S.RETRY, S.REROUTED}}.get(to, {S.RUNNING})
    update = StatusUpdate(
        inv,
        frozenset(sources),
        StatusEntry(to, time.time(), owner),
        owner=owner if to is S.RUNNING else None,
        expected_owner=None if to is S.RUNNING else owner,
    )
    assert backend.set_status(update)


def _running(backend: StateBackend, count: int) -> list[str]:
    """``count`` registered invocations, claimed (RUNNING)."""
    records = [_record() for _ in range(count)]
    backend.register(records, time.time())
    for record in records:
        _move(backend, record.invocation_id, S.RUNNING)
    return [record.invocation_id for record in records]


def _in_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = target(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


class LimitsContract:
    """Behaviour every state backend's limit primitives must have; subclass it with a
    ``backend_url`` fixture (or override ``backend``)."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    # -- registration ----------------------------------------------------------------------

    def test_a_held_key_returns_its_holder_and_stores_nothing(self, backend: StateBackend) -> None:
        first, second, free = _record(), _record({"x": "2"}), _record()
        holders = backend.register_exclusive([first], ["k"], 10.0, PENDING)
        assert holders == [None]
        stored = backend.get(first.invocation_id)
        assert stored is not None and stored.status is S.REGISTERED
        assert [e.timestamp for e in backend.history(first.invocation_id)] == [10.0]
        assert backend.register_exclusive([second, free], ["k", None], 11.0, PENDING) == [
            first.invocation_id,
            None,
        ]
        assert backend.get(second.invocation_id) is None
        assert backend.get(free.invocation_id) is not None

    def test_a_key_is_held_while_its_holder_is_pending(self, backend: StateBackend) -> None:
        first, second, third = _record(), _record(), _record()
        backend.register_exclusive([first], ["k"], 1.0, PENDING)
        _move(backend, first.invocation_id, S.RUNNING)
        assert backend.register_exclusive([second], ["k"], 2.0, PENDING) == [first.invocation_id]
        _move(backend, first.invocation_id, S.SUCCESS)
        assert backend.register_exclusive([second], ["k"], 3.0, PENDING) == [None]
        # the new holder is the one now returned
        assert backend.register_exclusive([third], ["k"], 4.0, PENDING) == [second.invocation_id]

    def test_records_of_one_call_see_each_other(self, backend: StateBackend) -> None:
        first, second, other = _record(), _record(), _record()
        holders = backend.register_exclusive(
            [first, second, other], ["k", "k", "other"], 1.0, PENDING
        )
        assert holders == [None, first.invocation_id, None]

    def test_registered_records_are_claimed_like_any(self, backend: StateBackend) -> None:
        record = _record({"a": "[1]"})
        backend.register_exclusive([record], ["k"], 1.0, PENDING)
        assert backend.find(task_id="mod.task", statuses=[S.REGISTERED]) == [record.invocation_id]
        _move(backend, record.invocation_id, S.RUNNING)
        stored = backend.get(record.invocation_id)
        assert stored is not None and stored.arguments == {"a": "[1]"}

    def test_concurrent_registrations_register_one(self, backend: StateBackend) -> None:
        records = [_record() for _ in range(8)]

        def register(index: int) -> str | None:
            return backend.register_exclusive([records[index]], ["k"], 1.0, PENDING)[0]

        holders = _in_threads(8, register)
        winners = [r.invocation_id for r, h in zip(records, holders, strict=True) if h is None]
        assert len(winners) == 1
        assert {h for h in holders if h is not None} == set(winners)
        assert backend.find(statuses=[S.REGISTERED]) == winners

    def test_a_stored_id_is_left_as_it_is(self, backend: StateBackend) -> None:
        # a caller-chosen id seen before: its record, history and the key's holder stand
        first = _record()
        assert backend.register_exclusive([first], ["k"], 1.0, PENDING) == [None]
        _move(backend, first.invocation_id, S.RUNNING)
        _move(backend, first.invocation_id, S.SUCCESS)
        again = InvocationRecord(first.invocation_id, "mod.task", {"x": "2"}, queue="q")
        assert backend.register_exclusive([again], ["other"], 2.0, PENDING) == [first.invocation_id]
        stored = backend.get(first.invocation_id)
        assert stored is not None and stored.status is S.SUCCESS
        assert stored.arguments == {"x": "1"}
        assert [e.status for e in backend.history(first.invocation_id)][-1] is S.SUCCESS
        # the key "other" was not taken by it: a new call registers under it
        assert backend.register_exclusive([_record()], ["other"], 3.0, PENDING) == [None]

    # -- running slots ---------------------------------------------------------------------

    def test_slots_up_to_the_limit(self, backend: StateBackend) -> None:
        a, b, c = _running(backend, 3)
        assert backend.acquire_slot("s", a, 2, RUNNING)
        assert backend.acquire_slot("s", a, 2, RUNNING)  # already held: no second slot
        assert backend.acquire_slot("s", b, 2, RUNNING)
        assert not backend.acquire_slot("s", c, 2, RUNNING)
        assert backend.slot_holders("s") == sorted([a, b])
        assert backend.acquire_slot("other", c, 1, RUNNING)  # keys are independent

    def test_release_hands_the_slot_to_the_longest_waiter(self, backend: StateBackend) -> None:
        a, b, c, d = _running(backend, 4)
        assert backend.acquire_slot("s", a, 1, RUNNING)
        for waiter in (b, c, d):
            assert not backend.acquire_slot("s", waiter, 1, RUNNING)
        assert not backend.acquire_slot("s", b, 1, RUNNING)  # asking again keeps its place
        assert backend.release_slot("s", a) == b
        assert backend.slot_holders("s") == []
        assert backend.acquire_slot("s", c, 1, RUNNING)  # whoever asks first takes it
        assert not backend.acquire_slot("s", b, 1, RUNNING)  # b queues again, after d
        assert backend.release_slot("s", c) == d
        assert backend.release_slot("s", "not-a-holder") is None
        assert backend.acquire_slot("s", d, 1, RUNNING)
        assert backend.release_slot("s", d) == b
        assert backend.release_slot("s", "gone") is None

    def test_a_waiter_that_leaves_is_not_woken(self, backend: StateBackend) -> None:
        a, b, c = _running(backend, 3)
        backend.acquire_slot("s", a, 1, RUNNING)
        assert not backend.acquire_slot("s", b, 1, RUNNING)
        assert not backend.acquire_slot("s", c, 1, RUNNING, enqueue=False)
        assert backend.release_slot("s", b) is None  # a waiter leaving gives back no slot
        assert backend.release_slot("s", a) is None  # c never queued, b left

    def test_holders_no_longer_running_do_not_count(self, backend: StateBackend) -> None:
        a, b, c, d = _running(backend, 4)
        assert backend.acquire_slot("s", a, 2, RUNNING)
        assert backend.acquire_slot("s", b, 2, RUNNING)
        assert not backend.acquire_slot("s", c, 2, RUNNING)
        _move(backend, a, S.REROUTED)  # recovery took it from a dead runner
        assert backend.acquire_slot("s", c, 2, RUNNING)
        assert backend.slot_holders("s") == sorted([b, c])
        assert backend.acquire_slot("t", "never-registered", 1, RUNNING)
        assert backend.acquire_slot("t", d, 1, RUNNING)  # an unknown holder counts for nothing
        _move(backend, b, S.SUCCESS)
        _move(backend, c, S.FAILED)
        assert backend.acquire_slot("s", d, 1, RUNNING)

    def test_a_rerouted_holder_claimed_again_keeps_its_slot(self, backend: StateBackend) -> None:
        [a] = _running(backend, 1)
        assert backend.acquire_slot("s", a, 1, RUNNING)
        _move(backend, a, S.REROUTED)
        _move(backend, a, S.RUNNING, owner="r2")
        assert backend.acquire_slot("s", a, 1, RUNNING)

    def test_concurrent_acquires_never_exceed_the_limit(self, backend: StateBackend) -> None:
        ids = _running(backend, 8)
        taken = _in_threads(8, lambda i: backend.acquire_slot("s", ids[i], 3, RUNNING))
        assert taken.count(True) == 3
        assert len(backend.slot_holders("s")) == 3

    # -- rate limit ------------------------------------------------------------------------

    def test_starts_are_spaced_by_the_interval(self, backend: StateBackend) -> None:
        assert backend.take_rate("r", "a", 0.5, NOW) == 0.0
        assert backend.take_rate("r", "b", 0.5, NOW) == pytest.approx(0.5)
        assert backend.take_rate("r", "c", 0.5, NOW + 0.1) == pytest.approx(0.9)
        assert backend.take_rate("other", "d", 0.5, NOW) == 0.0  # keys are independent

    def test_a_reservation_is_kept_for_its_holder(self, backend: StateBackend) -> None:
        backend.take_rate("r", "a", 1.0, NOW)
        assert backend.take_rate("r", "b", 1.0, NOW) == pytest.approx(1.0)
        # asking again (woken early) takes no second start: the time left on its own
        assert backend.take_rate("r", "b", 1.0, NOW + 0.25) == pytest.approx(0.75)
        assert backend.take_rate("r", "c", 1.0, NOW + 0.25) == pytest.approx(1.75)
        assert backend.take_rate("r", "b", 1.0, NOW + 1.5) == 0.0  # due (late): consumed
        assert backend.take_rate("r", "b", 1.0, NOW + 1.5) == pytest.approx(1.5)  # anew

    def test_an_idle_rate_starts_at_once(self, backend: StateBackend) -> None:
        for holder in "abc":
            backend.take_rate("r", holder, 0.1, NOW)
        assert backend.take_rate("r", "d", 0.1, NOW + 10) == 0.0
        assert backend.take_rate("r", "e", 0.1, NOW + 10) == pytest.approx(0.1)

    def test_a_late_start_pushes_the_next(self, backend: StateBackend) -> None:
        assert backend.take_rate("r", "a", 1.0, NOW) == 0.0
        assert backend.take_rate("r", "b", 1.0, NOW) == pytest.approx(1.0)
        assert backend.take_rate("r", "c", 1.0, NOW) == pytest.approx(2.0)
        assert backend.take_rate("r", "b", 1.0, NOW + 1.5) == 0.0  # b comes back late
        # c comes back on time, but only 0.5 s after b started: it waits the rest
        assert backend.take_rate("r", "c", 1.0, NOW + 2.0) == pytest.approx(0.5)
        assert backend.take_rate("r", "c", 1.0, NOW + 2.5) == 0.0
        # a newcomer is scheduled after the last start, not in the past schedule
        assert backend.take_rate("r", "d", 1.0, NOW + 2.5) == pytest.approx(1.0)

    def test_a_newcomer_waits_behind_the_reservations(self, backend: StateBackend) -> None:
        backend.take_rate("r", "a", 1.0, NOW)
        backend.take_rate("r", "b", 1.0, NOW)
        # the interval after a's start has passed, but b's turn is reserved before it
        assert backend.take_rate("r", "c", 1.0, NOW + 1.0) == pytest.approx(1.0)

    def test_unused_reservations_are_forgotten(self, backend: StateBackend) -> None:
        backend.take_rate("r", "a", 1.0, NOW)
        assert backend.take_rate("r", "b", 1.0, NOW) == pytest.approx(1.0)
        later = NOW + 1.0 + RATE_RESERVATION_GRACE + 1
        assert backend.take_rate("r", "b", 1.0, later) == 0.0  # a new start, not the old one
        assert backend.take_rate("r", "c", 1.0, later) == pytest.approx(1.0)

    def test_sub_millisecond_precision(self, backend: StateBackend) -> None:
        now = 1_700_000_000.123456
        backend.take_rate("r", "a", 0.0001, now)
        assert backend.take_rate("r", "b", 0.0001, now) == pytest.approx(0.0001, abs=1e-6)

    def test_concurrent_takes_get_distinct_starts(self, backend: StateBackend) -> None:
        waits = _in_threads(8, lambda i: backend.take_rate("r", f"h{i}", 0.25, NOW))
        assert sorted(waits) == [pytest.approx(0.25 * i) for i in range(8)]

    def test_purge_forgets_limits(self, backend: StateBackend) -> None:
        first = _record()
        backend.register_exclusive([first], ["k"], 1.0, PENDING)
        [a] = _running(backend, 1)
        backend.acquire_slot("s", a, 1, RUNNING)
        backend.take_rate("r", "a", 10.0, NOW)
        backend.purge()
        assert backend.slot_holders("s") == []
        assert backend.register_exclusive([_record()], ["k"], 1.0, PENDING) == [None]
        assert backend.take_rate("r", "b", 10.0, NOW) == 0.0


# -- several processes -----------------------------------------------------------------------


def _child_limits(where: Where, ids: list[str], name: str, barrier: Any, out: Any) -> None:
    backend = _open(where)
    barrier.wait(30)
    registered = [
        backend.register_exclusive([_record()], [f"k{i}"], 1.0, PENDING)[0] is None
        for i in range(20)
    ]
    slots = [inv for inv in ids if backend.acquire_slot("s", inv, 5, RUNNING)]
    waits = [backend.take_rate("r", f"{name}{i}", 0.01, NOW) for i in range(20)]
    out.put((name, registered, slots, waits))
    backend.close()


class CrossProcessLimitsContract:
    """The limit primitives hold across processes sharing a backend; subclass it with a
    ``backend_url`` fixture. Children are spawned and rebuild the backend from its URL."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_limits_hold_across_processes(self, backend: StateBackend) -> None:
        ids = _running(backend, 20)
        ctx = multiprocessing.get_context("spawn")
        out, barrier = ctx.Queue(), ctx.Barrier(2)
        children = [
            ctx.Process(
                target=_child_limits,
                args=(_where(backend), order, name, barrier, out),
            )
            for name, order in (("a", ids[:10]), ("b", ids[10:]))
        ]
        for child in children:
            child.start()
        results = [out.get(timeout=120) for _ in children]
        for child in children:
            child.join(30)
            assert child.exitcode == 0
        # each of the 20 keys was registered by exactly one process
        per_key = [a or b for a, b in zip(results[0][1], results[1][1], strict=True)]
        assert per_key == [True] * 20
        assert sum(results[0][1]) + sum(results[1][1]) == 20
        assert len(results[0][2]) + len(results[1][2]) == 5
        waits = sorted(results[0][3] + results[1][3])
        assert waits == [pytest.approx(0.01 * i) for i in range(40)]
