"""The Redis state backend's lent clients (``pynenc/state_backend/redis_clients.py``): one
connection kept per client between operations, never shared by two threads at once, and
dropped when an operation left it out of step; on a real Redis server."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pynenc.state_backend.redis_clients import LentClients
from tests.servers import Server


@pytest.fixture
def pool(redis_server: Server) -> Iterator[redis.ConnectionPool]:
    # as the state backend makes it: one immediate retry on a dropped connection
    pool = redis.ConnectionPool.from_url(
        redis_server.db_url(),  # type: ignore[attr-defined]
        decode_responses=True,
        retry=Retry(NoBackoff(), 1),
    )
    try:
        yield pool
    finally:
        pool.disconnect()


def _connections_made(pool: redis.ConnectionPool) -> int:
    return len(pool._available_connections) + len(pool._in_use_connections)


def test_operations_in_turn_reuse_one_connection(pool: redis.ConnectionPool) -> None:
    lent = LentClients(pool)
    key = f"lent-{uuid.uuid4().hex}"
    ids = {lent.run(lambda client: client.client_id()) for _ in range(50)}
    for _ in range(50):
        lent.run(lambda client: client.incr(key))
    assert len(ids) == 1  # the server saw one connection
    assert _connections_made(pool) == 1
    assert lent.run(lambda client: client.get(key)) == "50"


def test_threads_at_once_never_share_a_client(pool: redis.ConnectionPool) -> None:
    lent = LentClients(pool)
    inside, release = threading.Barrier(4), threading.Event()
    seen: list[int] = []

    def hold(client: redis.Redis) -> None:
        seen.append(client.client_id())
        inside.wait(10)  # all four hold one at the same time
        assert release.wait(10)

    threads = [threading.Thread(target=lent.run, args=(hold,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(set(seen)) == 4
    # given back: four threads in turn later use only those four
    after = {lent.run(lambda client: client.client_id()) for _ in range(20)}
    assert after <= set(seen)


def test_an_operation_that_left_a_reply_unread_drops_its_client(
    pool: redis.ConnectionPool,
) -> None:
    lent = LentClients(pool)
    key = f"lent-{uuid.uuid4().hex}"
    lent.run(lambda client: client.set(key, "value"))

    def interrupted(client: redis.Redis) -> None:
        assert client.connection is not None
        client.connection.send_command("PING")  # type: ignore[no-untyped-call]  # never read
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lent.run(interrupted)
    # the next operation does not read the stray PONG as its reply
    assert lent.run(lambda client: client.get(key)) == "value"


def test_an_error_reply_keeps_the_client(pool: redis.ConnectionPool) -> None:
    lent = LentClients(pool)
    key = f"lent-{uuid.uuid4().hex}"
    first = lent.run(lambda client: client.client_id())
    lent.run(lambda client: client.set(key, "text"))
    with pytest.raises(redis.ResponseError):
        lent.run(lambda client: client.incr(key))  # not an integer: the server says so
    assert lent.run(lambda client: client.client_id()) == first


def test_a_connection_the_server_closed_is_made_again(pool: redis.ConnectionPool) -> None:
    lent = LentClients(pool)
    first = lent.run(lambda client: client.client_id())
    admin = redis.Redis(connection_pool=pool)
    assert admin.client_kill_filter(_id=str(first)) == 1
    # the client's command fails on the closed socket; redis-py's retry reconnects it
    assert lent.run(lambda client: client.ping()) is True
    assert lent.run(lambda client: client.client_id()) != first
