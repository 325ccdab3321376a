"""The several-process part of the composition contract (:mod:`pynenc.testing.links_contract`).

For a backend that processes share (``capabilities.cross_process``): chord members ended by
several processes at once release the body exactly once, and a member failed in one process
fails the body once, seen by a waiter in another. Children are spawned and rebuild the
backend from its URL, as in :mod:`pynenc.testing.state_backend_cross_process`. Subclass
:class:`CrossProcessLinksContract` with a ``backend_url`` fixture. Needs pytest.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc.records import (
    RECEIVE_LIST,
    InvocationRecord,
    InvocationStatus,
    Links,
    StatusEntry,
    StatusUpdate,
)
from pynenc.state_backend import StateBackend
from pynenc.testing.state_backend_contract import open_backend
from pynenc.testing.state_backend_cross_process import Where, _open, _run, _where

S = InvocationStatus
ERROR = {"type": "builtins.ValueError", "message": "boom", "args": ['"boom"'], "attrs": {}}
#: processes ending members at once, and members each ends (one transaction per member)
PROCESSES = 4
PER_PROCESS = 12


def _chord(backend: StateBackend) -> tuple[list[str], str]:
    """A chord of ``PROCESSES * PER_PROCESS`` members, claimed (RUNNING), and its body."""
    members = [uuid.uuid4().hex for _ in range(PROCESSES * PER_PROCESS)]
    body = uuid.uuid4().hex
    records = [
        InvocationRecord(m, "mod.member", {}, queue="q", links=Links(then=(body,))) for m in members
    ]
    records.append(
        InvocationRecord(
            body,
            "mod.body",
            {},
            status=S.WAITING,
            queue="q",
            links=Links(after=tuple(members), receive=RECEIVE_LIST),
        )
    )
    backend.register(records, 10.0)
    claims = [
        StatusUpdate(m, frozenset({S.REGISTERED}), StatusEntry(S.RUNNING, 50.0, "r"), owner="r")
        for m in members
    ]
    assert all(backend.set_status_many(claims))
    return members, body


def _child_end(
    url: str, app_id: str, target: str, ends: list[tuple[str, bool]], barrier: Any, out: Any
) -> None:
    where: Where = (url, app_id, target)
    backend = _open(where)
    barrier.wait(60)
    applied = []
    for inv, fail in ends:
        outcome: dict[str, Any] = {"error": ERROR} if fail else {"result": "1"}
        entry = StatusEntry(S.FAILED if fail else S.SUCCESS, 100.0, "r", None)
        update = StatusUpdate(inv, frozenset({S.RUNNING}), entry, expected_owner="r", **outcome)
        applied.append(backend.set_status(update))
    out.put(all(applied))
    backend.close()


def _end_in_processes(
    backend: StateBackend, members: list[str], failing: str | None = None
) -> list[Any]:
    barrier = multiprocessing.get_context("spawn").Barrier(PROCESSES)
    shares = [[(m, m == failing) for m in members[i::PROCESSES]] for i in range(PROCESSES)]
    return _run(_child_end, *[(*_where(backend), share, barrier) for share in shares])


class CrossProcessLinksContract:
    """Composition across processes, for a backend with ``capabilities.cross_process``."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_members_ended_by_several_processes_release_the_body_once(
        self, backend: StateBackend
    ) -> None:
        members, body = _chord(backend)
        assert _end_in_processes(backend, members) == [True] * PROCESSES
        got = backend.get(body)
        assert got is not None and got.status is S.SCHEDULED
        assert [e.status for e in backend.history(body)] == [S.WAITING, S.SCHEDULED]
        assert [inv for inv, _ in backend.due(1e12, 1000)] == [body]

    def test_a_member_failed_in_another_process_fails_the_body_once(
        self, backend: StateBackend
    ) -> None:
        members, body = _chord(backend)
        failing = members[len(members) // 2]
        seen: list[bool] = []
        waiter = threading.Thread(target=lambda: seen.append(backend.wait_final(body, 60)))
        waiter.start()
        assert _end_in_processes(backend, members, failing) == [True] * PROCESSES
        waiter.join(60)
        assert seen == [True], "a waiter in this process sees the body ended"
        got = backend.get(body)
        assert got is not None and got.status is S.FAILED
        assert got.error is not None and got.error["upstream"] == failing
        assert [e.status for e in backend.history(body)] == [S.WAITING, S.FAILED]
        assert backend.due(1e12, 1000) == []
