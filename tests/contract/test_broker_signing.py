"""Signing and poison bodies on every transport: headers survive, bad messages dead-letter."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc.broker import Delivery, Envelope, KombuBroker
from pynenc.broker.envelope import CONTENT_TYPE
from pynenc.broker.signing import SignatureError

KEY = "contract-signing-key-0123456789"


@pytest.fixture(params=["memory", "sqlite", "redis", "amqp"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/broker.db"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def brokers(url: str) -> Iterator[tuple[KombuBroker, KombuBroker]]:
    """A signing broker and a plain one, on the same queues."""
    app_id = f"signing-{uuid.uuid4().hex[:8]}"
    signing = KombuBroker(url, app_id, signing_keys=[KEY])
    plain = KombuBroker(url, app_id)
    yield signing, plain
    signing.purge(["default"])
    signing.close()
    plain.close()


def _collect(broker: KombuBroker, want: int) -> tuple[Any, list[Delivery]]:
    consumer = broker.consumer(["default"], prefetch=want)
    got: list[Delivery] = []
    deadline = time.monotonic() + 10
    while len(got) < want and time.monotonic() < deadline:
        got += consumer.get(want - len(got), timeout=0.2)
    return consumer, got


def test_signed_accepted_unsigned_and_poison_dead_lettered_unread(
    brokers: tuple[KombuBroker, KombuBroker],
) -> None:
    signing, plain = brokers
    envelope = Envelope("inv-1", "m.t", {"x": "1"}, "json")
    plain.publish([envelope])
    signing.publish([envelope])
    with signing.connection() as conn:
        conn.Producer().publish(
            "[" * 100_000 + "]" * 100_000,
            exchange="",
            routing_key=signing.queue_name("default"),
            content_type=CONTENT_TYPE,
        )
    consumer, deliveries = _collect(signing, 3)
    try:
        assert len(deliveries) == 3  # in an order that depends on the transport's priorities
        [signed] = [d for d in deliveries if d.error is None]
        assert signed.envelopes == [envelope]
        refused = [d for d in deliveries if d.error is not None]
        assert all(isinstance(d.error, SignatureError) and not d.envelopes for d in refused)
        signed.ack()
        for delivery in refused:
            delivery.reject()
        deadline = time.monotonic() + 5  # RabbitMQ dead-letters asynchronously
        while signing.dead_letters("default") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert signing.dead_letters("default") == 2
    finally:
        consumer.close()
    # a runner without keys still takes signed messages (turn signing on callers first)
    signing.publish([envelope])
    consumer, [delivery] = _collect(plain, 1)
    try:
        assert delivery.envelopes == [envelope]
        delivery.ack()
    finally:
        consumer.close()


def test_poison_body_is_reported_and_dead_lettered(
    brokers: tuple[KombuBroker, KombuBroker],
) -> None:
    _, plain = brokers
    plain.purge(["default"])  # declares the queue: AMQP drops a message to a missing one
    with plain.connection() as conn:
        conn.Producer().publish(
            "[" * 200_000 + "]" * 200_000,
            exchange="",
            routing_key=plain.queue_name("default"),
            content_type=CONTENT_TYPE,
        )
    consumer, [poison] = _collect(plain, 1)
    try:
        assert not poison.envelopes and "deeper than" in str(poison.error)
        poison.reject()
        deadline = time.monotonic() + 5
        while plain.dead_letters("default") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert plain.dead_letters("default") == 1
    finally:
        consumer.close()
