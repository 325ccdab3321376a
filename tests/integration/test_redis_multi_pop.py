"""A Redis consumer pops a batch per round trip (BLMPOP, Redis 7+), within its prefetch,
in order, screening every item; on a real Redis server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from pynenc.broker import KombuBroker
from pynenc.broker.redis_transport import POP_MAX
from pynenc.testing.broker_contract import collect, sample_envelope
from tests.servers import Server


@pytest.fixture
def broker(redis_server: Server) -> Iterator[KombuBroker]:
    broker = KombuBroker(redis_server.db_url(), f"multi-pop-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    try:
        yield broker
    finally:
        broker.close()


def _pops(url: str) -> int:
    """Blocking pops the server has run so far (BLMPOP and BRPOP)."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("blmpop", "brpop"))
    finally:
        client.close()


def test_a_backlog_is_taken_in_batches_in_order_within_the_prefetch(
    broker: KombuBroker,
) -> None:
    broker.publish([sample_envelope(i) for i in range(100)])
    consumer = broker.consumer(["default"], prefetch=10)
    try:
        before = _pops(broker.url)
        seen: list[str] = []
        while len(seen) < 100:
            batch = collect(consumer, 10)
            assert batch, f"stalled after {len(seen)}"
            assert len(batch) <= 10, "never more unacked than the prefetch"
            for delivery in batch:
                assert delivery.envelope is not None
                seen.append(delivery.envelope.invocation_id)
                delivery.ack()
        assert seen == [f"inv-{i}" for i in range(100)], "oldest first"
        assert _pops(broker.url) - before <= 30, "a batch per round trip, not one each"
    finally:
        consumer.close()


def test_poison_in_a_batch_is_dead_lettered_and_the_rest_delivered(
    broker: KombuBroker,
) -> None:
    broker.publish([sample_envelope(0)])
    client = redis.Redis.from_url(broker.url)
    client.lpush(broker.queue_name("default"), b"garbage")
    client.close()
    broker.publish([sample_envelope(1)])
    consumer = broker.consumer(["default"], prefetch=POP_MAX)
    try:
        got = collect(consumer, 2)
        assert [d.envelope.invocation_id for d in got if d.envelope] == ["inv-0", "inv-1"]
        for delivery in got:
            delivery.ack()
        assert broker.dead_letters("default") == 1
    finally:
        consumer.close()
