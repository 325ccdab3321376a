"""The several-process part of the state-backend contract.

For a backend that processes share (``capabilities.cross_process``): another process reads
and writes, claims raced between processes have one winner, ``wait_final`` is woken from
another process, and a forked child opens its own connections. Children are spawned (a
fresh interpreter, as on macOS and Windows) unless a test is about fork; each rebuilds the
backend from its URL with :func:`~pynenc.state_backend.create_state_backend`, after
registering the URL's scheme for the class under test, so a third-party scheme registered
at run time works in the children too (its module must be importable there). Use it as
:mod:`pynenc.testing.state_backend_contract` says::

    class TestMyStoreShared(CrossProcessStateBackendContract):
        @pytest.fixture
        def backend_url(self, tmp_path):
            return f"mystore:///{tmp_path}/state"
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pynenc.records import InvocationStatus
from pynenc.state_backend import StateBackend, create_state_backend, register_backend
from pynenc.testing.state_backend_contract import open_backend, sample_record, sample_update

S = InvocationStatus
#: what a child needs to rebuild the backend: its URL, app id and ``module:Class``
Where = tuple[str, str, str]


def _where(backend: StateBackend) -> Where:
    cls = type(backend)
    return backend.url, backend.app_id, f"{cls.__module__}:{cls.__qualname__}"


def _open(where: Where) -> StateBackend:
    url, app_id, target = where
    register_backend(url.partition("://")[0], target)
    return create_state_backend(url, app_id)


def _child_finish(url: str, app_id: str, target: str, inv: str, go: Any, out: Any) -> None:
    backend = _open((url, app_id, target))
    record = backend.get(inv)
    go.wait(30)
    claimed = backend.set_status(
        sample_update(inv, {S.REGISTERED, S.RUNNING}, S.RUNNING, owner="c")
    )
    done = backend.set_status(
        sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="c", result="42")
    )
    out.put((record is not None and record.arguments == {"x": "1"}, claimed and done))
    backend.close()


def _child_claim(
    url: str, app_id: str, target: str, ids: list[str], name: str, barrier: Any, out: Any
) -> None:
    backend = _open((url, app_id, target))
    barrier.wait(30)
    won = [
        i
        for i in ids
        if backend.set_status(sample_update(i, {S.REGISTERED}, S.RUNNING, owner=name))
    ]
    out.put((name, won))
    backend.close()


def _run(target: Callable[..., None], *calls: tuple[Any, ...]) -> list[Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    children = [ctx.Process(target=target, args=(*args, out)) for args in calls]
    for child in children:
        child.start()
    results = [out.get(timeout=60) for _ in children]
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    return results


class CrossProcessStateBackendContract:
    """Behaviour of a backend that several processes share (``capabilities.cross_process``).

    Subclass it with a ``backend_url`` fixture, or override ``backend``, as for
    :class:`~pynenc.testing.state_backend_contract.StateBackendContract`.
    """

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_another_process_reads_and_writes(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        go = multiprocessing.get_context("spawn").Event()
        go.set()
        [(saw_record, finished)] = _run(_child_finish, (*_where(backend), record.invocation_id, go))
        assert saw_record and finished
        stored = backend.get(record.invocation_id)
        assert stored is not None and stored.status is S.SUCCESS and stored.result == "42"
        assert [e.runner_id for e in backend.history(record.invocation_id)] == [None, "c", "c"]

    def test_claims_across_processes_have_one_winner(self, backend: StateBackend) -> None:
        records = [sample_record() for _ in range(30)]
        backend.register(records, time.time())
        ids = [r.invocation_id for r in records]
        barrier = multiprocessing.get_context("spawn").Barrier(2)
        won = dict(
            _run(
                _child_claim,
                (*_where(backend), ids, "a", barrier),
                (*_where(backend), ids[::-1], "b", barrier),
            )
        )
        won_a, won_b = won["a"], won["b"]
        assert not set(won_a) & set(won_b)
        assert sorted(won_a + won_b) == sorted(ids)
        for inv in won_a:
            stored = backend.get(inv)
            assert stored is not None and stored.owner == "a"

    def test_wait_final_is_woken_from_another_process(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        go = multiprocessing.get_context("spawn").Event()
        child_result: list[Any] = []
        thread = threading.Thread(
            target=lambda: child_result.extend(_run(_child_finish, (*_where(backend), inv, go)))
        )
        thread.start()
        go.set()  # the child finishes only after this, as this process starts waiting
        assert backend.wait_final(inv, timeout=60)
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.SUCCESS
        thread.join(60)
        assert child_result == [(True, True)]

    def test_wait_final_many_is_woken_from_another_process(self, backend: StateBackend) -> None:
        first, second = sample_record(), sample_record()
        backend.register([first, second], time.time())
        go = multiprocessing.get_context("spawn").Event()
        results: list[Any] = []
        calls = [(*_where(backend), r.invocation_id, go) for r in (first, second)]
        thread = threading.Thread(target=lambda: results.extend(_run(_child_finish, *calls)))
        thread.start()
        go.set()
        assert backend.wait_final_many([first.invocation_id, second.invocation_id], timeout=60)
        thread.join(60)
        assert results == [(True, True), (True, True)]

    def test_a_wait_is_ended_by_the_wake_up_not_by_a_re_read(
        self, backend: StateBackend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Woken by another process's final status: its re-read interval (``recheck_interval``,
        for a backend with ``capabilities.native_wakeup`` that has one) is made longer than
        the wait's timeout, and the other process finishes only after the waiter's first
        read (``wait_final_record`` reads the record while waiting) saw it pending."""
        if not backend.capabilities.native_wakeup or not hasattr(backend, "recheck_interval"):
            pytest.skip("this backend polls, or has no recheck_interval to lengthen")
        monkeypatch.setattr(backend, "recheck_interval", 600.0)
        record = sample_record()
        backend.register([record], time.time())
        inv = record.invocation_id
        go = multiprocessing.get_context("spawn").Event()
        seen: list[InvocationStatus | None] = []
        get = backend.get

        def get_then_go(invocation_id: str) -> Any:
            found = get(invocation_id)
            seen.append(None if found is None else found.status)
            go.set()  # the child finishes only after this read
            return found

        monkeypatch.setattr(backend, "get", get_then_go)
        child_result: list[Any] = []
        thread = threading.Thread(
            target=lambda: child_result.extend(_run(_child_finish, (*_where(backend), inv, go)))
        )
        thread.start()
        final = backend.wait_final_record(inv, timeout=120)
        thread.join(60)
        assert child_result == [(True, True)]
        assert seen[0] is S.REGISTERED, "the first read came after the child's final status"
        assert final is not None and final.status is S.SUCCESS

    def test_forked_child_opens_its_own_connections(self, backend: StateBackend) -> None:
        first, second = sample_record(), sample_record()
        backend.register([first, second], time.time())  # the parent's connections are in use
        child = multiprocessing.get_context("fork").Process(
            target=_finish_in_fork, args=(backend, first.invocation_id)
        )
        child.start()
        child.join(30)
        assert child.exitcode == 0
        stored = backend.get(first.invocation_id)
        assert stored is not None and stored.status is S.SUCCESS
        assert backend.set_status(
            sample_update(second.invocation_id, {S.REGISTERED}, S.RUNNING, owner="p")
        )


def _finish_in_fork(backend: StateBackend, inv: str) -> None:
    assert backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="f"))
    assert backend.set_status(
        sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="f", result="1")
    )
    assert backend.wait_final(inv, timeout=10)
    backend.close()
