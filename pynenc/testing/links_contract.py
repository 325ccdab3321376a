"""The state-backend contract of composition (chains, chords, callbacks), as a pytest suite.

What :class:`pynenc.records.Links` needs of a backend: a WAITING invocation registered
with ``after`` waits for those invocations; in the same atomic step that ends one of them
the backend releases it (SCHEDULED, due at once, in the scheduled index) when all have
succeeded, ends it FAILED with the upstream error when one did not, and settles error
callbacks; ended followers settle their own followers in the same step. A chord body is
released exactly once, by whichever member's end brings its count to zero. A step with a
delay (``Links.delay``/``not_before``) is released due at ``Links.due(release time)``.

Subclass :class:`LinksContract` with a ``backend_url`` fixture (see
:mod:`pynenc.testing.scheduling_contract`). Needs pytest.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from pynenc.records import (
    ON_FAILURE,
    RECEIVE_ERROR,
    RECEIVE_LIST,
    RECEIVE_LIST_IGNORED,
    RECEIVE_VALUE,
    InvocationRecord,
    InvocationStatus,
    Links,
    StatusEntry,
    StatusUpdate,
)
from pynenc.state_backend import StateBackend
from pynenc.testing.state_backend_contract import open_backend

S = InvocationStatus
ERROR = {"type": "builtins.ValueError", "message": "boom", "args": ['"boom"'], "attrs": {}}


def _id() -> str:
    return uuid.uuid4().hex


def _plain(inv: str, then: tuple[str, ...] = ()) -> InvocationRecord:
    links = Links(then=then) if then else None
    return InvocationRecord(inv, "mod.task", {"x": "1"}, queue="q", links=links)


def _waiting(inv: str, after: tuple[str, ...], **links: Any) -> InvocationRecord:
    return InvocationRecord(
        inv, "mod.next", {}, status=S.WAITING, queue="q", links=Links(after=after, **links)
    )


def _end(inv: str, status: InvocationStatus, at: float = 100.0, **outcome: Any) -> StatusUpdate:
    """The owner's move RUNNING -> ``status``."""
    return StatusUpdate(
        inv,
        frozenset({S.RUNNING}),
        StatusEntry(status, at, "r", None),
        expected_owner="r",
        **outcome,
    )


def _run(backend: StateBackend, *invs: str) -> None:
    for inv in invs:
        claim = StatusUpdate(
            inv,
            frozenset({S.REGISTERED}),
            StatusEntry(S.RUNNING, 50.0, "r"),
            owner="r",
        )
        assert backend.set_status(claim), f"claim of {inv}"


def _status(backend: StateBackend, inv: str) -> InvocationStatus:
    record = backend.get(inv)
    assert record is not None, inv
    return record.status


def _due_ids(backend: StateBackend) -> set[str]:
    return {inv for inv, _ in backend.due(1e12, 1000)}


class LinksContract:
    """Behaviour every state backend must have for chains, chords and callbacks."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_links_come_back_with_the_record(self, backend: StateBackend) -> None:
        a, b = _id(), _id()
        links = Links(after=(a,), receive=RECEIVE_VALUE, into=("x",), then=("c",))
        backend.register(
            [
                _plain(a, then=(b,)),
                _waiting(b, (a,), receive=RECEIVE_VALUE, into=("x",), then=("c",)),
            ],
            10.0,
        )
        got_a, got_b = backend.get_many([a, b])
        assert got_a is not None and got_a.links == Links(then=(b,))
        assert got_b is not None and got_b.links == links and got_b.status is S.WAITING
        assert _due_ids(backend) == set(), "a WAITING invocation is not in the scheduled index"

    def test_records_without_links_are_the_records_but_their_links(
        self, backend: StateBackend
    ) -> None:
        """What a released step reads of those it waited for: every field but the links
        (a step before a group of n names all n in ``then``), in order, ``None`` where
        there is no record."""
        a, b, unknown = _id(), _id(), _id()
        step = InvocationRecord(
            a, "mod.task", {"x": "1"}, queue="q", serializer="pickle", headers={"h": 1},
            root_id="root", links=Links(then=tuple(_id() for _ in range(50))),
        )  # fmt: skip
        backend.register([step, _plain(b)], 10.0)
        _run(backend, a)
        assert backend.set_status(_end(a, S.SUCCESS, 100.0, result="3"))
        whole = backend.get_many([a, b])
        light = backend.get_many_without_links([a, unknown, b])
        assert light[1] is None
        for full, without in zip(whole, [light[0], light[2]], strict=True):
            assert full is not None and without is not None
            assert without == replace(full, links=None)
        assert whole[0] is not None and whole[0].links == step.links

    def test_a_success_releases_the_next_step_due_at_once(self, backend: StateBackend) -> None:
        a, b, c = _id(), _id(), _id()
        backend.register([_plain(a, (b,)), _waiting(b, (a,), then=(c,)), _waiting(c, (b,))], 10.0)
        _run(backend, a)
        assert backend.set_status(_end(a, S.SUCCESS, 100.0, result="3"))
        assert _status(backend, b) is S.SCHEDULED and _status(backend, c) is S.WAITING
        assert backend.due(1e12, 10) == [(b, 100.0)]
        history = backend.history(b)
        assert [e.status for e in history] == [S.WAITING, S.SCHEDULED]
        assert history[1].timestamp == 100.0 and a in (history[1].reason or "")

    def test_a_failure_fails_every_later_step_with_its_error(self, backend: StateBackend) -> None:
        a, b, c = _id(), _id(), _id()
        backend.register([_plain(a, (b,)), _waiting(b, (a,), then=(c,)), _waiting(c, (b,))], 10.0)
        _run(backend, a)
        assert backend.set_status(_end(a, S.FAILED, error=ERROR))
        got_b, got_c = backend.get_many([b, c])
        assert got_b is not None and got_c is not None
        assert got_b.status is S.FAILED and got_c.status is S.FAILED
        assert got_b.error is not None and got_b.error["type"] == "builtins.ValueError"
        assert got_b.error["upstream"] == a and got_c.error is not None
        assert got_c.error["upstream"] == b and got_c.error["message"] == "boom"
        assert backend.wait_final(c, 0.0), "a waiter on the last step sees it final"
        assert _due_ids(backend) == set()

    def test_a_cancelled_step_fails_its_followers_with_a_dependency_error(
        self, backend: StateBackend
    ) -> None:
        a, b = _id(), _id()
        backend.register([_plain(a, (b,)), _waiting(b, (a,))], 10.0)
        cancel = StatusUpdate(a, frozenset({S.REGISTERED}), StatusEntry(S.CANCELLED, 20.0))
        assert backend.set_status(cancel)
        got = backend.get(b)
        assert got is not None and got.status is S.FAILED and got.error is not None
        assert got.error["type"] == "pynenc.exceptions.DependencyError"
        assert got.error["upstream"] == a and "CANCELLED" in got.error["message"]

    def test_a_chord_body_is_released_once_by_the_last_member(self, backend: StateBackend) -> None:
        members = [_id() for _ in range(5)]
        body = _id()
        backend.register(
            [_plain(m, (body,)) for m in members]
            + [_waiting(body, tuple(members), receive=RECEIVE_LIST)],
            10.0,
        )
        _run(backend, *members)
        for member in members[:-1]:
            assert backend.set_status(_end(member, S.SUCCESS, result="1"))
            assert _status(backend, body) is S.WAITING
        assert backend.set_status(_end(members[-1], S.SUCCESS, result="1"))
        assert _status(backend, body) is S.SCHEDULED
        assert [e.status for e in backend.history(body)] == [S.WAITING, S.SCHEDULED]

    def test_concurrent_members_release_the_body_exactly_once(self, backend: StateBackend) -> None:
        members = [_id() for _ in range(40)]
        body = _id()
        backend.register(
            [_plain(m, (body,)) for m in members]
            + [_waiting(body, tuple(members), receive=RECEIVE_LIST)],
            10.0,
        )
        _run(backend, *members)
        barrier = threading.Barrier(8)

        def finish(share: list[str]) -> None:
            barrier.wait()
            backend.set_status_many([_end(m, S.SUCCESS, result="1") for m in share])

        threads = [threading.Thread(target=finish, args=(members[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert _status(backend, body) is S.SCHEDULED
        assert [e.status for e in backend.history(body)] == [S.WAITING, S.SCHEDULED]
        assert _due_ids(backend) == {body}

    def test_a_failed_member_fails_the_body_and_later_members_change_nothing(
        self, backend: StateBackend
    ) -> None:
        m1, m2, body, after_body = _id(), _id(), _id(), _id()
        backend.register(
            [
                _plain(m1, (body,)),
                _plain(m2, (body,)),
                _waiting(body, (m1, m2), receive=RECEIVE_LIST, then=(after_body,)),
                _waiting(after_body, (body,)),
            ],
            10.0,
        )
        _run(backend, m1, m2)
        assert backend.set_status(_end(m1, S.FAILED, error=ERROR))
        got = backend.get(body)
        assert got is not None and got.status is S.FAILED
        assert got.error is not None and got.error["upstream"] == m1
        assert _status(backend, after_body) is S.FAILED
        assert backend.set_status(_end(m2, S.SUCCESS, result="2"))
        assert _status(backend, body) is S.FAILED
        assert [e.status for e in backend.history(body)] == [S.WAITING, S.FAILED]

    def test_an_error_callback_runs_on_failure_only(self, backend: StateBackend) -> None:
        ok, bad, errback_ok, errback_bad = _id(), _id(), _id(), _id()
        backend.register(
            [
                _plain(ok, (errback_ok,)),
                _plain(bad, (errback_bad,)),
                _waiting(errback_ok, (ok,), on=ON_FAILURE, receive=RECEIVE_ERROR),
                _waiting(errback_bad, (bad,), on=ON_FAILURE, receive=RECEIVE_ERROR),
            ],
            10.0,
        )
        _run(backend, ok, bad)
        assert backend.set_status_many(
            [_end(ok, S.SUCCESS, result="1"), _end(bad, S.FAILED, error=ERROR)]
        ) == [True, True]
        assert _status(backend, errback_bad) is S.SCHEDULED
        skipped = backend.get(errback_ok)
        assert skipped is not None and skipped.status is S.CANCELLED
        assert skipped.error is not None and "not needed" in skipped.error["message"]
        assert _due_ids(backend) == {errback_bad}

    def test_error_callbacks_of_a_chain_fire_once_for_the_step_that_failed(
        self, backend: StateBackend
    ) -> None:
        a, b, err_a, err_b = _id(), _id(), _id(), _id()
        backend.register(
            [
                _plain(a, (b, err_a)),
                _waiting(b, (a,), then=(err_b,)),
                _waiting(err_a, (a,), on=ON_FAILURE),
                _waiting(err_b, (b,), on=ON_FAILURE),
            ],
            10.0,
        )
        _run(backend, a)
        assert backend.set_status(_end(a, S.FAILED, error=ERROR))
        assert _status(backend, b) is S.FAILED
        assert _status(backend, err_a) is S.SCHEDULED
        assert _status(backend, err_b) is S.CANCELLED

    def test_a_chord_body_failed_by_a_member_calls_its_error_callbacks(
        self, backend: StateBackend
    ) -> None:
        m1, m2, body, errback = _id(), _id(), _id(), _id()
        backend.register(
            [
                _plain(m1, (body,)),
                _plain(m2, (body,)),
                _waiting(body, (m1, m2), receive=RECEIVE_LIST, then=(errback,)),
                _waiting(errback, (body,), on=ON_FAILURE),
            ],
            10.0,
        )
        _run(backend, m1, m2)
        assert backend.set_status(_end(m2, S.FAILED, error=ERROR))
        assert _status(backend, body) is S.FAILED
        assert _status(backend, errback) is S.SCHEDULED

    def _chord_after_a_chain(self, backend: StateBackend) -> dict[str, str]:
        """``a | b | chord([x | y, m], body)`` with an error callback on the body."""
        ids = {name: _id() for name in ("a", "b", "x", "y", "m", "body", "errback")}
        a, b, x, y, m, body, errback = ids.values()
        backend.register(
            [
                _plain(a, (b,)),
                _waiting(b, (a,), receive=RECEIVE_VALUE, then=(x, m)),
                _waiting(x, (b,), receive=RECEIVE_VALUE, then=(y,)),
                _waiting(y, (x,), receive=RECEIVE_VALUE, then=(body,)),
                _waiting(m, (b,), receive=RECEIVE_VALUE, then=(body,)),
                _waiting(body, (y, m), receive=RECEIVE_LIST, then=(errback,), before=(b,)),
                _waiting(errback, (body,), on=ON_FAILURE, receive=RECEIVE_ERROR),
            ],
            10.0,
        )
        return ids

    def test_a_chord_body_failed_from_before_the_chord_calls_no_error_callback(
        self, backend: StateBackend
    ) -> None:
        ids = self._chord_after_a_chain(backend)
        _run(backend, ids["a"])
        assert backend.set_status(_end(ids["a"], S.FAILED, error=ERROR))
        assert _status(backend, ids["body"]) is S.FAILED
        assert _status(backend, ids["errback"]) is S.CANCELLED, "a's own callback reports it"

    def test_a_failure_inside_a_chord_header_chain_calls_the_body_callback(
        self, backend: StateBackend
    ) -> None:
        ids = self._chord_after_a_chain(backend)
        _run(backend, ids["a"])
        assert backend.set_status(_end(ids["a"], S.SUCCESS, result="1"))
        backend.set_status_many(
            [
                StatusUpdate(
                    ids[name],
                    frozenset({S.SCHEDULED}),
                    StatusEntry(S.RUNNING, 60.0, "r"),
                    owner="r",
                )
                for name in ("b",)
            ]
        )
        assert backend.set_status(_end(ids["b"], S.SUCCESS, result="2"))
        claim = StatusUpdate(
            ids["x"], frozenset({S.SCHEDULED}), StatusEntry(S.RUNNING, 70.0, "r"), owner="r"
        )
        assert backend.set_status(claim)
        assert backend.set_status(_end(ids["x"], S.FAILED, error=ERROR))
        assert _status(backend, ids["y"]) is S.FAILED
        assert _status(backend, ids["body"]) is S.FAILED
        assert _status(backend, ids["errback"]) is S.SCHEDULED

    def test_an_immutable_chord_body_failed_by_a_member_calls_its_error_callbacks(
        self, backend: StateBackend
    ) -> None:
        """A body that receives none of the results (``.immutable()``, Celery's ``.si()``)
        is a chord body all the same: a failed member calls its error callbacks."""
        m1, m2, body, errback = _id(), _id(), _id(), _id()
        backend.register(
            [
                _plain(m1, (body,)),
                _plain(m2, (body,)),
                _waiting(body, (m1, m2), receive=RECEIVE_LIST_IGNORED, then=(errback,)),
                _waiting(errback, (body,), on=ON_FAILURE),
            ],
            10.0,
        )
        _run(backend, m1, m2)
        assert backend.set_status(_end(m1, S.FAILED, error=ERROR))
        assert _status(backend, body) is S.FAILED
        assert _status(backend, errback) is S.SCHEDULED

    def test_waiting_for_an_ended_invocation_settles_at_registration(
        self, backend: StateBackend
    ) -> None:
        done, failed = _id(), _id()
        backend.register([_plain(done), _plain(failed)], 10.0)
        _run(backend, done, failed)
        backend.set_status_many(
            [_end(done, S.SUCCESS, result="1"), _end(failed, S.FAILED, error=ERROR)]
        )
        then, errback, follower, half = _id(), _id(), _id(), _id()
        pending = _id()
        backend.register([_plain(pending)], 10.0)
        backend.register(
            [
                _waiting(then, (done,)),
                _waiting(errback, (failed,), on=ON_FAILURE),
                _waiting(follower, (failed,)),
                _waiting(half, (done, pending), receive=RECEIVE_LIST),
            ],
            200.0,
        )
        assert _status(backend, then) is S.SCHEDULED
        assert _status(backend, errback) is S.SCHEDULED
        assert _status(backend, follower) is S.FAILED
        assert _status(backend, half) is S.WAITING
        _run(backend, pending)
        assert backend.set_status(_end(pending, S.SUCCESS, result="1"))
        assert _status(backend, half) is S.SCHEDULED

    def test_a_waiting_invocation_can_be_cancelled_and_is_then_left_alone(
        self, backend: StateBackend
    ) -> None:
        a, b = _id(), _id()
        backend.register([_plain(a, (b,)), _waiting(b, (a,))], 10.0)
        cancel = StatusUpdate(b, frozenset({S.WAITING}), StatusEntry(S.CANCELLED, 20.0))
        assert backend.set_status(cancel)
        _run(backend, a)
        assert backend.set_status(_end(a, S.SUCCESS, result="1"))
        assert _status(backend, b) is S.CANCELLED
        assert _due_ids(backend) == set()

    def test_a_released_invocation_is_published_once(self, backend: StateBackend) -> None:
        a, b = _id(), _id()
        backend.register([_plain(a, (b,)), _waiting(b, (a,))], 10.0)
        _run(backend, a)
        backend.set_status(_end(a, S.SUCCESS, result="1"))
        # the runner that ended ``a`` and the scheduler, each with its own entry (the very
        # same update twice reads as a retry whose reply was lost: applied, on Redis)
        by_runner = StatusUpdate(b, frozenset({S.SCHEDULED}), StatusEntry(S.REGISTERED, 101.0))
        by_scheduler = StatusUpdate(b, frozenset({S.SCHEDULED}), StatusEntry(S.REGISTERED, 102.0))
        assert backend.set_status_many([by_runner, by_scheduler]) == [True, False]
        assert _due_ids(backend) == set()

    def test_a_delayed_step_is_released_due_after_its_delay(self, backend: StateBackend) -> None:
        a, delayed, at_eta, eta_past, plain = _id(), _id(), _id(), _id(), _id()
        backend.register(
            [
                _plain(a, (delayed, at_eta, eta_past, plain)),
                _waiting(delayed, (a,), delay=5.0),
                _waiting(at_eta, (a,), not_before=300.0),
                _waiting(eta_past, (a,), not_before=50.0),
                _waiting(plain, (a,)),
            ],
            10.0,
        )
        _run(backend, a)
        assert backend.set_status(_end(a, S.SUCCESS, 100.0, result="3"))
        assert sorted(backend.due(1e12, 10), key=lambda e: (e[1], e[0])) == sorted(
            [(plain, 100.0), (eta_past, 100.0), (delayed, 105.0), (at_eta, 300.0)],
            key=lambda e: (e[1], e[0]),
        )
        assert {inv for inv, _ in backend.due(104.0, 10)} == {plain, eta_past}
        got = backend.get(delayed)
        assert got is not None and got.status is S.SCHEDULED and got.due == 105.0
        history = backend.history(delayed)
        assert [e.status for e in history] == [S.WAITING, S.SCHEDULED]
        # released at the end of ``a``, by ``a``: the same entry as a step due at once
        assert history[1].timestamp == 100.0 and history[1].reason == f"released by {a}"

    def test_a_delay_keeps_every_digit_of_the_due_time(self, backend: StateBackend) -> None:
        a, b, c = _id(), _id(), _id()
        backend.register(
            [_plain(a, (b, c)), _waiting(b, (a,), delay=0.1), _waiting(c, (a,), delay=1e-6)],
            10.0,
        )
        _run(backend, a)
        ended = 1_700_000_000.123456
        assert backend.set_status(_end(a, S.SUCCESS, ended, result="3"))
        got_b, got_c = backend.get_many([b, c])
        assert got_b is not None and got_b.due == ended + 0.1
        assert got_c is not None and got_c.due == ended + 1e-6
        assert dict(backend.due(1e12, 10)) == {b: ended + 0.1, c: ended + 1e-6}

    def test_a_delayed_chord_body_and_error_callback(self, backend: StateBackend) -> None:
        m1, m2, body, bad, errback = _id(), _id(), _id(), _id(), _id()
        backend.register(
            [
                _plain(m1, (body,)),
                _plain(m2, (body,)),
                _waiting(body, (m1, m2), receive=RECEIVE_LIST, delay=2.0),
                _plain(bad, (errback,)),
                _waiting(errback, (bad,), on=ON_FAILURE, receive=RECEIVE_ERROR, delay=2.5),
            ],
            10.0,
        )
        _run(backend, m1, m2, bad)
        assert backend.set_status(_end(m1, S.SUCCESS, 100.0, result="1"))
        assert backend.set_status(_end(m2, S.SUCCESS, 120.0, result="2"))
        assert backend.set_status(_end(bad, S.FAILED, 130.0, error=ERROR))
        assert dict(backend.due(1e12, 10)) == {body: 122.0, errback: 132.5}
        history = backend.history(errback)
        assert history[-1].timestamp == 130.0 and history[-1].reason == f"{bad} failed"

    def test_a_delayed_step_released_at_registration(self, backend: StateBackend) -> None:
        done = _id()
        backend.register([_plain(done)], 10.0)
        _run(backend, done)
        assert backend.set_status(_end(done, S.SUCCESS, 100.0, result="1"))
        later, failed_later = _id(), _id()
        backend.register(
            [_waiting(later, (done,), delay=1.5), _waiting(failed_later, (_id(),), delay=1.0)],
            200.0,
        )
        assert dict(backend.due(1e12, 10)) == {later: 201.5}
        assert _status(backend, failed_later) is S.WAITING
