"""The reads recovery relies on, as a pytest suite: batched, never one per invocation.

``get_many`` and ``history_many`` read many invocations in a few round trips; recovery
(``Orchestrator.recover``, ``release_owned``, ``redeliver_stale``, ``reroute_many``) is built
on them and never reads a record or a history one invocation at a time. Run it against a
backend by subclassing :class:`RecoveryReadsContract` with a ``backend_url`` fixture, as for
:class:`~pynenc.testing.state_backend_contract.StateBackendContract`. Each test builds an app
on that state backend (``memory://`` broker, an app id of its own), purged afterwards.

A backend that keeps the default ``get_many``/``history_many`` (one ``get``/``history`` per
id) passes; overriding them is how it reads in fewer round trips. Needs pytest
(``pip install pynenc[testing]``); ``import pynenc`` never imports this module.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pynenc.app import Pynenc
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.state_backend import StateBackend

S = InvocationStatus
#: more than one chunk of every built-in backend (SQLite 500 ids a query, Redis 1,000 a
#: pipeline, recovery 1,000 a batch)
MANY = 1201
DEAD = "ThreadRunner:gone:1:dead"


def register_many(backend: StateBackend, n: int, when: float | None = None) -> list[str]:
    """Register ``n`` invocations of ``mod.task`` on queue ``default``; their ids."""
    records = [
        InvocationRecord(uuid.uuid4().hex, "mod.task", {"x": str(i)}, queue="default")
        for i in range(n)
    ]
    backend.register(records, time.time() if when is None else when)
    return [r.invocation_id for r in records]


def move_all(
    backend: StateBackend, ids: list[str], frm: InvocationStatus, to: InvocationStatus, runner: str
) -> None:
    """Move every one of ``ids`` from ``frm`` to ``to`` as ``runner`` (claiming when ``to``
    is RUNNING, as its owner otherwise)."""
    owned = to is S.RUNNING
    updates = [
        StatusUpdate(
            i,
            frozenset({frm}),
            StatusEntry(to, time.time(), runner, f"to {to.name}"),
            owner=runner if owned else None,
            expected_owner=None if owned else runner,
        )
        for i in ids
    ]
    assert all(backend.set_status_many(updates))


def queued(app: Pynenc) -> int:
    """Messages waiting in ``app``'s ``default`` queue (what recovery published)."""
    return app.broker.queue_depth("default")


class RecoveryReadsContract:
    """Batched reads on a backend, and recovery on top of them; subclass it with a
    ``backend_url`` fixture."""

    @pytest.fixture
    def app(self, backend_url: str) -> Iterator[Pynenc]:
        config = {"broker_url": "memory://", "state_backend_url": backend_url}
        level = logging.getLogger("pynenc").level  # logging_level sets it for the process
        app = Pynenc({**config, "logging_level": "error"}, app_id=f"rr-{uuid.uuid4().hex[:8]}")
        try:
            yield app
        finally:
            app.purge()
            app.state_backend.close()
            app.broker.close()
            logging.getLogger("pynenc").setLevel(level)  # later tests read its warnings

    @pytest.fixture
    def backend(self, app: Pynenc) -> StateBackend:
        return app.state_backend

    @pytest.fixture
    def one_by_one_forbidden(self, backend: StateBackend, monkeypatch: pytest.MonkeyPatch) -> None:
        """``get``/``history`` fail the test unless called by ``get_many``/``history_many``
        (their defaults are built on them)."""
        batched = [0]

        def forbid(name: str) -> None:
            original: Callable[..., Any] = getattr(backend, name)

            def call(*args: Any) -> Any:
                if not batched[0]:
                    raise AssertionError(f"recovery read one invocation at a time: {name}{args}")
                return original(*args)

            monkeypatch.setattr(backend, name, call)

        def allow_within(name: str) -> None:
            original: Callable[..., Any] = getattr(backend, name)

            def call(*args: Any) -> Any:
                batched[0] += 1
                try:
                    return original(*args)
                finally:
                    batched[0] -= 1

            monkeypatch.setattr(backend, name, call)

        for name in ("get", "history"):
            forbid(name)
        for name in ("get_many", "history_many"):
            allow_within(name)

    def test_history_many_matches_history(self, backend: StateBackend) -> None:
        ids = register_many(backend, 3, when=1.0)
        move_all(backend, ids[:2], S.REGISTERED, S.RUNNING, "r1")
        move_all(backend, ids[:1], S.RUNNING, S.REROUTED, "r1")
        histories = backend.history_many(ids)
        assert histories == [backend.history(i) for i in ids]
        assert [e.status for e in histories[0]] == [S.REGISTERED, S.RUNNING, S.REROUTED]
        assert histories[0][0].timestamp == 1.0 and histories[0][1].runner_id == "r1"
        assert histories[0][2].reason == "to REROUTED"
        assert [e.status for e in histories[2]] == [S.REGISTERED]

    def test_history_many_keeps_the_order_asked_unknown_ids_empty(
        self, backend: StateBackend
    ) -> None:
        first, second = register_many(backend, 2)
        move_all(backend, [second], S.REGISTERED, S.RUNNING, "r1")
        histories = backend.history_many([second, "unknown", first, second])
        assert [len(h) for h in histories] == [2, 0, 1, 2]
        assert histories[0] == histories[3] and histories[0] is not histories[3]
        assert backend.history_many([]) == []

    def test_history_many_across_chunks(self, backend: StateBackend) -> None:
        ids = register_many(backend, MANY)
        move_all(backend, ids[::2], S.REGISTERED, S.RUNNING, "r1")
        histories = backend.history_many(list(reversed(ids)))
        expected = [2 if index % 2 == 0 else 1 for index in range(MANY)][::-1]
        assert [len(h) for h in histories] == expected

    def test_get_many_across_chunks(self, backend: StateBackend) -> None:
        ids = register_many(backend, MANY)
        asked = [*reversed(ids), "unknown"]
        records = backend.get_many(asked)
        assert records[-1] is None
        assert [r.invocation_id for r in records[:-1] if r is not None] == asked[:-1]
        assert records[0] is not None and records[0].arguments == {"x": str(MANY - 1)}
        assert backend.get_many([]) == []

    def test_get_many_returns_copies(self, backend: StateBackend) -> None:
        [inv] = register_many(backend, 1)
        [record] = backend.get_many([inv])
        assert record is not None
        record.status = S.SUCCESS
        [again] = backend.get_many([inv])
        assert again is not None and again.status is S.REGISTERED

    @pytest.mark.usefixtures("one_by_one_forbidden")
    def test_recover_reroutes_every_invocation_of_a_dead_runner(
        self, app: Pynenc, backend: StateBackend
    ) -> None:
        ids = register_many(backend, MANY)
        move_all(backend, ids, S.REGISTERED, S.RUNNING, DEAD)
        alive = register_many(backend, 1)
        move_all(backend, alive, S.REGISTERED, S.RUNNING, "alive")
        now = time.time()
        backend.heartbeat(DEAD, now - 3600)
        backend.heartbeat("alive", now)
        assert app.orchestrator.recover("leader", now, 60.0, 3) == [DEAD]
        assert sorted(backend.find(statuses=[S.REROUTED])) == sorted(ids)
        assert backend.find(statuses=[S.RUNNING]) == alive
        last = backend.history_many(ids[:1])[0][-1]
        assert last.status is S.REROUTED and last.runner_id == "leader"
        assert last.reason == f"runner {DEAD} is dead (silent for 3600.0 s)"
        assert DEAD not in backend.runners()
        assert queued(app) == MANY  # published again, once each

    @pytest.mark.usefixtures("one_by_one_forbidden")
    def test_runner_without_heartbeat_is_dead(self, app: Pynenc, backend: StateBackend) -> None:
        ids = register_many(backend, 2)
        move_all(backend, ids, S.REGISTERED, S.RUNNING, DEAD)
        # claimed just now: a runner whose heartbeat was removed (a purge, or declared dead
        # while paused) and that claims before it beats again is alive: not run twice
        assert app.orchestrator.recover("leader", time.time(), 60.0, 3) == []
        assert sorted(backend.find(statuses=[S.RUNNING])) == sorted(ids)
        assert queued(app) == 0
        # still no heartbeat dead_after after the claim: it is gone
        assert app.orchestrator.recover("leader", time.time() + 61, 60.0, 3) == []
        assert sorted(backend.find(statuses=[S.REROUTED])) == sorted(ids)
        [history] = backend.history_many(ids[:1])
        assert history[-1].reason == f"runner {DEAD} is dead (no heartbeat)"

    @pytest.mark.usefixtures("one_by_one_forbidden")
    def test_past_max_reroutes_it_fails(self, app: Pynenc, backend: StateBackend) -> None:
        ids = register_many(backend, 3)
        move_all(backend, ids, S.REGISTERED, S.RUNNING, "r1")
        move_all(backend, ids[:2], S.RUNNING, S.REROUTED, "r1")
        move_all(backend, ids[:2], S.REROUTED, S.RUNNING, DEAD)
        move_all(backend, ids[2:], S.RUNNING, S.REROUTED, "r1")  # not running: left alone
        moved = app.orchestrator.release_owned(DEAD, "leader", "it stopped", max_reroutes=1)
        assert moved == 2
        records = backend.get_many(ids)
        assert [r.status for r in records if r is not None] == [S.FAILED, S.FAILED, S.REROUTED]
        error = records[0].error if records[0] is not None else None
        assert error is not None and error["type"] == "pynenc.exceptions.RunnerError"
        assert "rerouted 1 times (runner.max_reroutes)" in error["message"]
        assert queued(app) == 0  # a failed invocation is not published again

    @pytest.mark.usefixtures("one_by_one_forbidden")
    def test_release_owned_only_takes_that_runners_work(
        self, app: Pynenc, backend: StateBackend
    ) -> None:
        mine, theirs = register_many(backend, MANY), register_many(backend, 3)
        move_all(backend, mine, S.REGISTERED, S.RUNNING, DEAD)
        move_all(backend, theirs, S.REGISTERED, S.RUNNING, "other")
        assert app.orchestrator.release_owned(DEAD, DEAD, "stopping", 3) == MANY
        assert sorted(backend.find(statuses=[S.RUNNING])) == sorted(theirs)
        assert queued(app) == MANY

    @pytest.mark.usefixtures("one_by_one_forbidden")
    def test_a_move_refused_meanwhile_is_skipped(self, app: Pynenc, backend: StateBackend) -> None:
        ids = register_many(backend, 2)
        move_all(backend, ids, S.REGISTERED, S.RUNNING, DEAD)
        records = backend.get_many(ids)
        move_all(backend, ids[:1], S.RUNNING, S.SUCCESS, DEAD)  # finished after it was read
        moves = [(r, "dead") for r in records if r is not None]
        assert app.orchestrator.reroute_many(moves, "leader", 3) == 1
        assert [r.status for r in backend.get_many(ids) if r] == [S.SUCCESS, S.REROUTED]
        assert queued(app) == 1

    @pytest.mark.usefixtures("one_by_one_forbidden")
    def test_redeliver_stale_publishes_each_once_per_period(
        self, app: Pynenc, backend: StateBackend
    ) -> None:
        now = time.time()
        register_many(backend, MANY, when=now - 600)
        register_many(backend, 2, when=now)  # waiting, but not for long
        assert app.orchestrator.redeliver_stale("leader", now, 300.0) == MANY
        assert queued(app) == MANY
        # the lease holds for the period: another pass (or runner) publishes nothing more
        assert app.orchestrator.redeliver_stale("other", now + 1, 300.0) == 0
        assert len(backend.find(statuses=[S.REGISTERED])) == MANY + 2  # nothing moved
