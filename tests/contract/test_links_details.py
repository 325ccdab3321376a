"""What settling writes, to the byte where it matters, on every backend: the errors of
followers are the payloads :mod:`pynenc.state_backend._links` makes (the Redis backend
writes them in Lua), history entries and due times keep every digit, odd ids and errors go
through, and an expiry settles as any final status. Then the Redis-only parts: the
completion message of followers, the keys (none for a plain call, none after purge)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pynenc.exceptions import DependencyError
from pynenc.records import (
    ON_FAILURE,
    RECEIVE_LIST,
    InvocationRecord,
    InvocationStatus,
    Links,
    StatusEntry,
    StatusUpdate,
)
from pynenc.state_backend import StateBackend
from pynenc.state_backend._links import _not_needed, _payload
from pynenc.state_backend.redis import RedisStateBackend
from pynenc.state_backend.redis_notices import announced, final_record
from pynenc.testing.state_backend_contract import open_backend
from tests.contract.test_state_backend_contract import BACKENDS

S = InvocationStatus
AT = 1700000000.123456  # a time whose digits a Lua number or a 14-digit format would cut
ERROR = {"type": "builtins.ValueError", "message": "boom", "args": ['"boom"'], "attrs": {}}


def _id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex


def _plain(inv: str, **fields: Any) -> InvocationRecord:
    return InvocationRecord(inv, "mod.task", {"x": "1"}, queue="q", **fields)


def _waiting(
    inv: str, after: tuple[str, ...], headers: Any = None, **links: Any
) -> InvocationRecord:
    links_ = Links(after=after, **links)
    return InvocationRecord(
        inv, "mod.next", {}, status=S.WAITING, queue="q", headers=headers, links=links_
    )


def _claim(backend: StateBackend, *invs: str) -> None:
    for inv in invs:
        claim = StatusUpdate(inv, frozenset({S.REGISTERED}), StatusEntry(S.RUNNING, 50.0, "r"), "r")
        assert backend.set_status(claim)


def _end(inv: str, status: InvocationStatus, **outcome: Any) -> StatusUpdate:
    entry = StatusEntry(status, AT, "r", None)
    return StatusUpdate(inv, frozenset({S.RUNNING}), entry, expected_owner="r", **outcome)


def _get(backend: StateBackend, inv: str) -> InvocationRecord:
    record = backend.get(inv)
    assert record is not None, inv
    return record


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    yield from open_backend(BACKENDS[request.param](request))


def test_a_cancelled_upstream_gives_the_dependency_error_payload(backend: StateBackend) -> None:
    a, b = _id('odd/id "é" '), _id()
    backend.register([_plain(a), _waiting(b, (a,))], 10.0)
    cancel = StatusUpdate(a, frozenset({S.REGISTERED}), StatusEntry(S.CANCELLED, AT))
    assert backend.set_status(cancel)
    message = f"Invocation {a}, which this one waited for, ended CANCELLED"
    got = _get(backend, b)
    assert got.error == {**_payload(DependencyError(message, a)), "upstream": a}
    assert backend.history(b)[-1] == StatusEntry(S.FAILED, AT, None, f"{a} ended CANCELLED")


def test_an_error_callback_not_needed_gets_the_cancelled_payload(backend: StateBackend) -> None:
    a, errback = _id(), _id()
    backend.register([_plain(a), _waiting(errback, (a,), on=ON_FAILURE)], 10.0)
    _claim(backend, a)
    assert backend.set_status(_end(a, S.SUCCESS, result="1"))
    reason = f"not needed: {a} ended SUCCESS"
    got = _get(backend, errback)
    assert got.status is S.CANCELLED and got.error == _not_needed(reason)
    assert backend.history(errback)[-1] == StatusEntry(S.CANCELLED, AT, None, reason)


def test_a_chain_passes_the_error_on_unchanged_but_for_its_upstream(
    backend: StateBackend,
) -> None:
    # no args (an empty list stays a list), a lone surrogate, a float with every digit
    error = {
        "type": "mod.Odd",
        "message": "bad \ud800 / \u00e9",
        "args": [],
        "attrs": {"n": "0.1234567890123456789", "big": 12345678901234567890},
        "skipped": ["x"],
        "traceback": "Traceback ...\n",
    }
    a, b, c, d = _id(), _id(), _id(), _id()
    backend.register([_plain(a), _waiting(b, (a,)), _waiting(c, (b,)), _waiting(d, (c,))], 10.0)
    _claim(backend, a)
    assert backend.set_status(_end(a, S.FAILED, error=error))
    assert _get(backend, b).error == {**error, "upstream": a}
    assert _get(backend, c).error == {**error, "upstream": b}
    assert _get(backend, d).error == {**error, "upstream": c}
    assert backend.history(d) == [
        StatusEntry(S.WAITING, 10.0),
        StatusEntry(S.FAILED, AT, None, f"{c} ended FAILED"),
    ]


def test_a_release_is_due_at_the_ending_time_to_the_digit(backend: StateBackend) -> None:
    a, b = _id(), _id()
    backend.register([_plain(a), _waiting(b, (a,))], 10.0)
    _claim(backend, a)
    assert backend.set_status(_end(a, S.SUCCESS, result="1"))
    assert _get(backend, b).due == AT and backend.due(1e12, 10) == [(b, AT)]
    assert backend.history(b)[-1] == StatusEntry(S.SCHEDULED, AT, None, f"released by {a}")


def test_an_expiry_at_claim_settles_the_followers(backend: StateBackend) -> None:
    a, b = _id(), _id()
    backend.register([_plain(a, expires=20.0), _waiting(b, (a,))], 10.0)
    claim = StatusUpdate(
        a,
        frozenset({S.REGISTERED}),
        StatusEntry(S.RUNNING, 30.0, "r"),
        "r",
        on_expiry=StatusEntry(S.EXPIRED, 30.0, "r", "expired"),
    )
    assert not backend.set_status(claim)
    got = _get(backend, b)
    assert got.status is S.FAILED and got.error is not None
    assert got.error["type"] == "pynenc.exceptions.DependencyError"
    assert got.error["upstream"] == a and "EXPIRED" in got.error["message"]


def test_links_are_read_past_headers_with_a_lone_surrogate(backend: StateBackend) -> None:
    a, b, errback = _id(), _id(), _id()
    backend.register(
        [
            _plain(a),
            _waiting(b, (a,), headers={"h": "\udc80"}, receive=RECEIVE_LIST),
            _waiting(errback, (b,), headers={"links": {"on": "x"}, "h": "\udc80"}, on=ON_FAILURE),
        ],
        10.0,
    )
    _claim(backend, a)
    assert backend.set_status(_end(a, S.FAILED, error=ERROR))
    assert _get(backend, b).status is S.FAILED
    assert _get(backend, errback).status is S.SCHEDULED, "a chord body's error callback runs"
    assert _get(backend, b).headers == {"h": "\udc80"}


# -- Redis only -------------------------------------------------------------------------


@pytest.fixture
def redis_backend(redis_server: Any) -> Iterator[RedisStateBackend]:
    for backend in open_backend(str(redis_server.db_url())):
        assert isinstance(backend, RedisStateBackend)
        yield backend


def _keys(backend: RedisStateBackend, kind: str) -> list[str]:
    client = redis.Redis.from_url(backend.url, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=backend.prefix + kind + "*"))
    finally:
        client.close()


def test_redis_publishes_the_followers_that_end(redis_backend: RedisStateBackend) -> None:
    a, b, c, late = _id(), _id(), _id(), _id()
    redis_backend.register([_plain(a), _waiting(b, (a,)), _waiting(c, (b,))], 10.0)
    client = redis.Redis.from_url(redis_backend.url, decode_responses=True)
    pubsub = client.pubsub()  # type: ignore[no-untyped-call]
    try:
        pubsub.subscribe(redis_backend.channel)
        assert pubsub.get_message(timeout=10)["type"] == "subscribe"
        _claim(redis_backend, a)
        assert redis_backend.set_status(_end(a, S.FAILED, error=ERROR))
        message = pubsub.get_message(timeout=10)
        assert message is not None
        assert [i for i, _ in announced(message["data"])] == [a, b, c]
        # each with its final record (redis_notices): the waiters read nothing again
        records = [final_record(i, sent) for i, sent in announced(message["data"])]
        assert [r.status if r else None for r in records] == [S.FAILED] * 3
        # a follower that ends at its registration is published too
        redis_backend.register([_waiting(late, (a,))], 200.0)
        message = pubsub.get_message(timeout=10)
        assert message is not None and message["data"] == late
    finally:
        pubsub.close()
        client.close()


def test_redis_keeps_no_link_key_for_a_plain_call_nor_after_purge(
    redis_backend: RedisStateBackend,
) -> None:
    plain, a, b = _id(), _id(), _id()
    redis_backend.register([_plain(plain), _plain(a), _waiting(b, (a,))], 10.0)
    _claim(redis_backend, plain)
    assert redis_backend.set_status(_end(plain, S.SUCCESS, result="1"))
    assert _keys(redis_backend, "followers:") == [redis_backend.prefix + "followers:" + a]
    assert redis_backend.purge() == 3
    assert _keys(redis_backend, "") == []


def test_redis_stores_a_follower_error_with_one_upstream(redis_backend: RedisStateBackend) -> None:
    a, b, c = _id(), _id(), _id()
    redis_backend.register([_plain(a), _waiting(b, (a,)), _waiting(c, (b,))], 10.0)
    _claim(redis_backend, a)
    assert redis_backend.set_status(_end(a, S.FAILED, error=ERROR))
    client = redis.Redis.from_url(redis_backend.url, decode_responses=True)
    try:
        text = client.hget(redis_backend.prefix + "inv:" + c, "error")
    finally:
        client.close()
    assert isinstance(text, str) and text.count('"upstream"') == 1
    assert json.loads(text) == {**ERROR, "upstream": b}


def _fields(backend: RedisStateBackend, inv: str, *names: str) -> list[str | None]:
    client = redis.Redis.from_url(backend.url, decode_responses=True)
    try:
        return list(client.hmget(backend.prefix + "inv:" + inv, list(names)))
    finally:
        client.close()


def test_redis_counts_a_chord_body_down_by_its_own_fields(
    redis_backend: RedisStateBackend,
) -> None:
    # a member's end reads the body's count and kind (fields), never its links (the meta
    # JSON, as long as the chord): the cost of a member stays flat with the chord's size
    a, b, body = _id(), _id(), _id()
    redis_backend.register([_plain(a), _plain(b), _waiting(body, (a, b), receive=RECEIVE_LIST)], 1)
    assert _fields(redis_backend, body, "left", "on") == ["2", "success"]
    _claim(redis_backend, a, b)
    assert redis_backend.set_status(_end(a, S.SUCCESS, result="1"))
    assert _fields(redis_backend, body, "left", "on") == ["1", "success"]
    assert redis_backend.set_status(_end(b, S.SUCCESS, result="2"))
    assert _get(redis_backend, body).status is S.SCHEDULED
    assert _fields(redis_backend, body, "left", "on") == [None, None]


@pytest.mark.parametrize("on", ["success", ON_FAILURE])
def test_redis_settles_a_waiting_record_stored_without_its_kind(
    redis_backend: RedisStateBackend, on: str
) -> None:
    # a WAITING record written before the kind was a field of its own: read from its links
    a, b, follower = _id(), _id(), _id()
    redis_backend.register([_plain(a), _plain(b), _waiting(follower, (a, b), on=on)], 1.0)
    client = redis.Redis.from_url(redis_backend.url, decode_responses=True)
    try:
        client.hdel(redis_backend.prefix + "inv:" + follower, "on")
    finally:
        client.close()
    _claim(redis_backend, a, b)
    assert redis_backend.set_status(_end(a, S.SUCCESS, result="1"))
    assert redis_backend.set_status(_end(b, S.SUCCESS, result="2"))
    expected = S.SCHEDULED if on == "success" else S.CANCELLED
    assert _get(redis_backend, follower).status is expected
