"""The state-backend contract: every backend passes the same tests.

Add a backend to ``BACKENDS`` (or subclass :class:`StateBackendContract`, and
:class:`CrossProcessContract` for a backend with ``capabilities.cross_process``, with your
own ``backend`` fixture) to run it. Redis runs against a real server (``tests/servers.py``).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pynenc.exceptions import ConfigError
from pynenc.records import InvocationStatus, fingerprint
from pynenc.state_backend import (
    InvocationRecord,
    StateBackend,
    StatusEntry,
    StatusUpdate,
    create_state_backend,
    redis_recent,
    sqlite_recent,
)
from tests.servers import Server

S = InvocationStatus
#: backend name -> its URL for one test (a fixture may be needed: a file, a server)
BACKENDS: dict[str, Callable[[pytest.FixtureRequest], str]] = {
    "memory": lambda request: "memory://",
    "sqlite": lambda request: f"sqlite:///{request.getfixturevalue('tmp_path')}/state.db",
    "redis": lambda request: str(request.getfixturevalue("redis_url")),
}
CROSS_PROCESS = ["sqlite", "redis"]


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


def check_recent(backend: StateBackend) -> None:
    """``recent``: newest registration first, every filter, the limit."""
    old, mid, new = _record("mod.a"), _record("mod.b"), _record("mod.a")
    other_queue = InvocationRecord(uuid.uuid4().hex, "mod.a", {}, queue="other")
    backend.register([old], 100.0)
    backend.register([mid], 200.0)
    backend.register([new, other_queue], 300.0)
    backend.set_status(_update(mid.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"))
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

    def test_claim_checks_the_stored_task_and_arguments(self, backend: StateBackend) -> None:
        """A claim naming another task or other arguments (a forged message) is refused
        and leaves the record as it was; the genuine claim then succeeds."""
        record = _record()
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
                [_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1", **checks)]
            ) == [False]
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.REGISTERED and stored.owner is None
        assert stored.task_id == "mod.task" and stored.arguments == {"x": "1"}
        assert [e.status for e in backend.history(inv)] == [S.REGISTERED]
        checks = {"expected_task": "mod.task", "expected_fingerprint": genuine}
        assert backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r1", **checks))

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

    def test_set_status_many_applies_each_on_its_own_terms(self, backend: StateBackend) -> None:
        a, b, c = _record(), _record(), _record()
        backend.register([a, b, c], time.time())
        backend.set_status(_update(b.invocation_id, {S.REGISTERED}, S.RUNNING, owner="other"))
        applied = backend.set_status_many(
            [
                _update(a.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"),
                _update(b.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"),  # taken
                _update("unknown", {S.REGISTERED}, S.RUNNING, owner="r"),
                _update(c.invocation_id, {S.REGISTERED}, S.RUNNING, owner="r"),
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
        records = [_record() for _ in range(5)]
        ids = [r.invocation_id for r in records]
        backend.register(records, time.time())
        backend.set_status_many([_update(i, {S.REGISTERED}, S.RUNNING, owner="r") for i in ids])
        woke = threading.Event()

        def waiter() -> None:
            if backend.wait_final_many(ids, timeout=10):
                woke.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        backend.set_status_many(
            [_update(i, {S.RUNNING}, S.SUCCESS, expected_owner="r", result=i) for i in ids[:4]]
        )
        assert not woke.wait(0.05)  # one is still running
        backend.set_status_many(
            [_update(ids[4], {S.RUNNING}, S.FAILED, expected_owner="r", error={"type": "E"})]
        )
        thread.join(10)
        assert woke.is_set()
        stored = backend.get_many([*ids, "unknown"])
        assert [r.result if r else None for r in stored] == [*ids[:4], None, None]
        assert stored[4] is not None and stored[4].error == {"type": "E"}
        assert [e.status for e in backend.history(ids[0])] == [S.REGISTERED, S.RUNNING, S.SUCCESS]

    def test_wait_final_many_times_out_and_knows_unknown_ids(self, backend: StateBackend) -> None:
        done, pending = _record(), _record()
        backend.register([done, pending], time.time())
        inv = done.invocation_id
        backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        backend.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r", result="1"))
        assert backend.wait_final_many([inv], timeout=0.01)
        assert not backend.wait_final_many([inv, pending.invocation_id], timeout=0.05)
        assert not backend.wait_final_many([inv, "unknown"], timeout=0.05)
        assert backend.wait_final_many([], timeout=0.01)

    def test_wait_final_record_returns_the_final_record(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        assert backend.wait_final_record(inv, timeout=0.01) is None
        assert backend.wait_final_record("unknown", timeout=0.01) is None
        backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        timer = threading.Timer(
            0.05,
            lambda: backend.set_status(
                _update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r", result="7")
            ),
        )
        timer.start()
        final = backend.wait_final_record(inv, timeout=10)
        timer.join()
        assert final is not None and final.status is S.SUCCESS and final.result == "7"

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


# -- several processes -----------------------------------------------------------------------
# Children are spawned (a fresh interpreter, as on macOS/Windows) unless a test is about fork.
# They rebuild the backend from its URL and report through a queue.


def _child_finish(url: str, app_id: str, inv: str, go: Any, out: Any) -> None:
    backend = create_state_backend(url, app_id)
    record = backend.get(inv)
    go.wait(30)
    claimed = backend.set_status(_update(inv, {S.REGISTERED, S.RUNNING}, S.RUNNING, owner="c"))
    done = backend.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="c", result="42"))
    out.put((record is not None and record.arguments == {"x": "1"}, claimed and done))
    backend.close()


def _child_claim(url: str, app_id: str, ids: list[str], name: str, barrier: Any, out: Any) -> None:
    backend = create_state_backend(url, app_id)
    barrier.wait(30)
    won = [i for i in ids if backend.set_status(_update(i, {S.REGISTERED}, S.RUNNING, owner=name))]
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


class CrossProcessContract:
    """Behaviour of a backend that several processes share."""

    def test_another_process_reads_and_writes(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        go = multiprocessing.get_context("spawn").Event()
        go.set()
        [(saw_record, finished)] = _run(
            _child_finish, (backend.url, backend.app_id, record.invocation_id, go)
        )
        assert saw_record and finished
        stored = backend.get(record.invocation_id)
        assert stored is not None and stored.status is S.SUCCESS and stored.result == "42"
        assert [e.runner_id for e in backend.history(record.invocation_id)] == [None, "c", "c"]

    def test_claims_across_processes_have_one_winner(self, backend: StateBackend) -> None:
        records = [_record() for _ in range(30)]
        backend.register(records, time.time())
        ids = [r.invocation_id for r in records]
        barrier = multiprocessing.get_context("spawn").Barrier(2)
        won = dict(
            _run(
                _child_claim,
                (backend.url, backend.app_id, ids, "a", barrier),
                (backend.url, backend.app_id, ids[::-1], "b", barrier),
            )
        )
        won_a, won_b = won["a"], won["b"]
        assert not set(won_a) & set(won_b)
        assert sorted(won_a + won_b) == sorted(ids)
        for inv in won_a:
            stored = backend.get(inv)
            assert stored is not None and stored.owner == "a"

    def test_wait_final_is_woken_from_another_process(self, backend: StateBackend) -> None:
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        go = multiprocessing.get_context("spawn").Event()
        child_result: list[Any] = []
        thread = threading.Thread(
            target=lambda: child_result.extend(
                _run(_child_finish, (backend.url, backend.app_id, inv, go))
            )
        )
        thread.start()
        go.set()  # the child finishes only after this, as this process starts waiting
        assert backend.wait_final(inv, timeout=60)
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.SUCCESS
        thread.join(60)
        assert child_result == [(True, True)]

    def test_wait_final_many_is_woken_from_another_process(self, backend: StateBackend) -> None:
        first, second = _record(), _record()
        backend.register([first, second], time.time())
        go = multiprocessing.get_context("spawn").Event()
        results: list[Any] = []
        calls = [(backend.url, backend.app_id, r.invocation_id, go) for r in (first, second)]
        thread = threading.Thread(target=lambda: results.extend(_run(_child_finish, *calls)))
        thread.start()
        go.set()
        assert backend.wait_final_many([first.invocation_id, second.invocation_id], timeout=60)
        thread.join(60)
        assert results == [(True, True), (True, True)]

    def test_forked_child_opens_its_own_connections(self, backend: StateBackend) -> None:
        first, second = _record(), _record()
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
            _update(second.invocation_id, {S.REGISTERED}, S.RUNNING, owner="p")
        )


def _finish_in_fork(backend: StateBackend, inv: str) -> None:
    assert backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="f"))
    assert backend.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="f", result="1"))
    assert backend.wait_final(inv, timeout=10)
    backend.close()


def test_fingerprint_ignores_key_order_and_tells_arguments_apart() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1:1"}) != fingerprint({"a:1": "1"})
    assert fingerprint({"é": "1"}) != fingerprint({"e": "1"})
    assert fingerprint({}) != fingerprint({"": ""})


# -- fixtures --------------------------------------------------------------------------------


def _open(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    url = BACKENDS[request.param](request)
    instance = create_state_backend(url, f"contract-{uuid.uuid4().hex[:8]}")
    yield instance
    instance.purge()
    instance.close()


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    yield from _open(request)


@pytest.fixture(params=CROSS_PROCESS)
def shared_backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    yield from _open(request)


class TestStateBackends(StateBackendContract):
    """Runs the contract on every backend in ``BACKENDS``."""


class TestSharedStateBackends(CrossProcessContract):
    """Runs the several-process contract on every backend in ``CROSS_PROCESS``."""

    @pytest.fixture
    def backend(self, shared_backend: StateBackend) -> StateBackend:
        return shared_backend


# -- Redis through a server restart ----------------------------------------------------------


class TestRedisRestart:
    """The Redis backend reconnects; the test server keeps no data unless told to SAVE."""

    def test_operations_work_after_a_restart(self, redis_factory: Callable[[], Server]) -> None:
        server = redis_factory()
        backend = create_state_backend(server.url, "restart")
        backend.register([_record()], time.time())
        server.restart()
        record = _record()
        backend.register([record], time.time())
        inv = record.invocation_id
        assert backend.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        assert backend.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r"))
        assert backend.wait_final(inv, timeout=10)
        backend.close()

    def test_an_operation_waits_for_the_server(self, redis_factory: Callable[[], Server]) -> None:
        server = redis_factory()
        backend = create_state_backend(server.url, "outage")
        backend.get("warm-up")  # a pooled connection that the kill leaves dead
        server.kill()
        record = _record()
        thread = threading.Thread(target=backend.register, args=([record], time.time()))
        thread.start()  # retries until the server is back
        server.start()
        thread.join(30)
        assert backend.get(record.invocation_id) is not None
        backend.close()

    def test_a_waiter_survives_a_restart(self, redis_factory: Callable[[], Server]) -> None:
        import redis

        server = redis_factory()
        waiter = create_state_backend(server.url, "waits")
        finisher = create_state_backend(server.url, "waits")
        waiter.recheck_interval = 120  # type: ignore[attr-defined] # only pub/sub may wake it
        record = _record()
        finisher.register([record], time.time())
        inv = record.invocation_id
        finisher.set_status(_update(inv, {S.REGISTERED}, S.RUNNING, owner="r"))
        woke: list[bool] = []
        thread = threading.Thread(target=lambda: woke.append(waiter.wait_final(inv, 60)))
        thread.start()
        redis.Redis.from_url(server.url).save()  # keep the record through the restart
        server.restart()
        assert finisher.set_status(_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r"))
        thread.join(30)
        assert woke == [True]
        waiter.close()
        finisher.close()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite://host/x.db", "sqlite:///d/"]
)
def test_sqlite_url_must_name_a_file(url: str) -> None:
    with pytest.raises(ConfigError, match="SQLite"):
        create_state_backend(url, "app")


def test_sqlite_file_of_an_older_version_gains_fingerprints(tmp_path: Any) -> None:
    """A file made before fingerprints existed is migrated; its records stay claimable."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE pynenc_invocations (app_id TEXT NOT NULL, invocation_id TEXT NOT NULL, "
        "task_id TEXT NOT NULL, status TEXT NOT NULL, owner TEXT, num_retries INTEGER NOT "
        "NULL, parent_id TEXT, queue TEXT NOT NULL, arguments TEXT NOT NULL, result TEXT, "
        "error TEXT, PRIMARY KEY (app_id, invocation_id))"
    )
    conn.execute(
        "INSERT INTO pynenc_invocations VALUES "
        "('app', 'old', 'mod.task', 'registered', NULL, 0, NULL, 'q', '{\"x\": \"1\"}', NULL, NULL)"
    )
    conn.commit()
    conn.close()
    backend = create_state_backend(f"sqlite:///{path}", "app")
    checks = {"expected_task": "mod.task", "expected_fingerprint": fingerprint({"x": "1"})}
    assert backend.set_status(_update("old", {S.REGISTERED}, S.RUNNING, owner="r", **checks))
    backend.register([_record(inv="new")], time.time())
    forged = {**checks, "expected_fingerprint": fingerprint({"x": "2"})}
    assert not backend.set_status(_update("new", {S.REGISTERED}, S.RUNNING, owner="r", **forged))
    assert backend.set_status(_update("new", {S.REGISTERED}, S.RUNNING, owner="r", **checks))
    backend.close()


@pytest.mark.parametrize(
    ("kind", "module", "threshold"),
    [("sqlite", sqlite_recent, "RECENT_SORT_MAX"), ("redis", redis_recent, "RECENT_FROM_SETS")],
)
def test_recent_walks_newest_first_when_a_filter_matches_many(
    kind: str, module: object, threshold: str, request: pytest.FixtureRequest
) -> None:
    """Past a threshold, filtered listings walk registration order instead of an index."""
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(module, threshold, 0)
    backend = create_state_backend(BACKENDS[kind](request), f"contract-{uuid.uuid4().hex[:8]}")
    try:
        check_recent(backend)
    finally:
        backend.purge()
        backend.close()
