"""A Redis listener nobody waits on reads the app's completion messages in batches
(``pynenc.state_backend._listen_pace``), on a real Redis server: nothing it reads late is
lost, a thread that starts waiting has it catch up first, and a purge read late still
keeps a waiter from trusting what the listener kept before it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pynenc import InvocationStatus
from pynenc.records import InvocationRecord, StatusEntry, StatusUpdate
from pynenc.state_backend.redis import RedisStateBackend
from tests.integration.deployments import wait_until
from tests.servers import Server

S = InvocationStatus
APP_ID = "tests-listen-pace"
#: long enough that nothing is read in batches unless a waiter asks for it
NEVER = 60.0


@pytest.fixture
def url(redis_server: Server) -> str:
    return str(redis_server.db_url())  # type: ignore[attr-defined]


@pytest.fixture
def backends(url: str) -> Iterator[tuple[RedisStateBackend, RedisStateBackend]]:
    """The caller's backend, and another process's that registers and ends invocations."""
    caller, other = RedisStateBackend(APP_ID, url), RedisStateBackend(APP_ID, url)
    try:
        yield caller, other
    finally:
        caller.purge()
        caller.close()
        other.close()


@pytest.fixture
def caller(backends: tuple[RedisStateBackend, RedisStateBackend]) -> RedisStateBackend:
    return backends[0]


@pytest.fixture
def other(backends: tuple[RedisStateBackend, RedisStateBackend]) -> RedisStateBackend:
    return backends[1]


def _ended(backend: RedisStateBackend, count: int) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(count)]
    backend.register([InvocationRecord(i, "m.t", {}, queue="q") for i in ids], 1.0)
    for invocation_id in ids:
        claim = StatusEntry(S.RUNNING, 2.0, "r")
        assert backend.set_status(
            StatusUpdate(invocation_id, frozenset({S.REGISTERED}), claim, "r")
        )
        done = StatusEntry(S.SUCCESS, 3.0, "r", None)
        assert backend.set_status(
            StatusUpdate(
                invocation_id, frozenset({S.RUNNING}), done, expected_owner="r", result='"ok"'
            )
        )
    return ids


def _batching(caller: RedisStateBackend, other: RedisStateBackend) -> None:
    """Start the caller's listener with a wait, then let it go to batch reads."""
    caller._listener.pace.active_window = 0.05
    caller._listener.pace.lazy_tick = NEVER
    (first,) = _ended(other, 1)
    assert caller.wait_final_record(first, 30) is not None
    wait_until(lambda: caller._listener.listening, 30, "the listener to subscribe")
    wait_until(lambda: caller._listener.pace.batching, 30, "the listener to read in batches")


def test_ends_read_late_are_all_kept_and_a_new_waiter_needs_no_read(
    caller: RedisStateBackend, other: RedisStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _batching(caller, other)
    ids = _ended(other, 5)
    assert all(other.get(i).status is S.SUCCESS for i in ids)  # type: ignore[union-attr]
    assert not any(caller._recent.ended(i) for i in ids), "read before anyone waited"
    reads: list[str] = []
    real_get = caller.get
    monkeypatch.setattr(caller, "get", lambda i: reads.append(i) or real_get(i))
    record = caller.wait_final_record(ids[2], 30)
    assert record is not None and record.status is S.SUCCESS and record.result == '"ok"'
    assert reads == [], "the listener caught up first: its end was known"
    assert all(caller._recent.ended(i) for i in ids), "an end read in the batch was dropped"
    assert not caller._listener.pace.batching, "a waiter came: each message is read as it comes"


def test_a_purge_read_late_still_forgets_the_ends_kept_before_it(
    caller: RedisStateBackend, other: RedisStateBackend
) -> None:
    _batching(caller, other)
    caller._listener.pace.active_window = NEVER  # (read the next end as it comes)
    caller._listener.pace.wake()
    wait_until(
        lambda: not caller._listener.pace.batching, 30, "the listener to read as messages come"
    )
    (kept,) = _ended(other, 1)
    wait_until(lambda: caller._recent.ended(kept), 30, "its end message")
    caller._listener.pace.active_window = 0.05
    wait_until(lambda: caller._listener.pace.batching, 30, "the listener to read in batches")
    other.purge()  # another process: its empty message is not read yet
    assert caller._recent.ended(kept), "the purge was read before anyone waited"
    assert caller.wait_final_record(kept, 0.5) is None, "an end kept from before the purge"


def test_closing_ends_a_listener_paused_between_batches(
    caller: RedisStateBackend, other: RedisStateBackend
) -> None:
    _batching(caller, other)
    listener = caller._listener.thread
    assert listener is not None and listener.is_alive()
    caller.close()  # waits up to a second for the listener
    assert not listener.is_alive(), "the pause outlived the close"
