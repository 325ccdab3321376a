"""The broker contract: what pynenc needs from a kombu transport, as a pytest suite.

pynenc has one broker, :class:`~pynenc.broker.KombuBroker`, over any kombu URL; what differs
is the transport behind the URL. Run the contract against a transport by subclassing
:class:`BrokerContract` (and :class:`BrokerSigningContract`) in a test module and giving it
a ``broker_url`` fixture (the URL of a reachable broker; every test uses queues of an app id
of its own)::

    import pytest
    from pynenc.testing.broker_contract import BrokerContract

    class TestMyTransport(BrokerContract):
        @pytest.fixture
        def broker_url(self):
            return "mytransport://localhost:1234"

A transport without priorities is told apart by ``broker.info.priority`` and skips that
test. Needs pytest (``pip install pynenc[testing]``); ``import pynenc`` never imports it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc.broker import Delivery, Envelope, KombuBroker
from pynenc.broker.envelope import CONTENT_TYPE
from pynenc.broker.signing import SignatureError
from pynenc.broker.transports import PriorityOrder

#: the signing key of :class:`BrokerSigningContract`'s signing broker
SIGNING_KEY = "contract-signing-key-0123456789"


def sample_envelope(i: int = 0, queue: str = "default", priority: int | None = None) -> Envelope:
    """Envelope ``inv-<i>`` of task ``mod.task`` with argument ``x = "<i>"``."""
    return Envelope(f"inv-{i}", "mod.task", {"x": str(i)}, "json", queue, priority=priority)


def collect(consumer: Any, want: int, timeout: float = 10.0) -> list[Delivery]:
    """Deliveries until ``want`` arrived (unacked), or the deadline passed."""
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += consumer.get(want - len(got), timeout=0.2)
    return got


def collect_from(broker: KombuBroker, want: int) -> tuple[Any, list[Delivery]]:
    """A new consumer of ``default`` and the deliveries :func:`collect` got from it."""
    consumer = broker.consumer(["default"], prefetch=want)
    return consumer, collect(consumer, want)


def drain(broker: KombuBroker, queues: list[str], want: int, prefetch: int = 0) -> list[Envelope]:
    """Consume and ack until ``want`` envelopes arrived (or 10 s passed); their envelopes."""
    consumer = broker.consumer(queues, prefetch=prefetch or want)
    got: list[Envelope] = []
    try:
        deadline = time.monotonic() + 10
        while len(got) < want and time.monotonic() < deadline:
            for delivery in consumer.get(want - len(got), timeout=0.2):
                assert delivery.envelope is not None
                got.append(delivery.envelope)
                delivery.ack()
    finally:
        consumer.close()
    return got


def wait_dead_letters(broker: KombuBroker, queue: str, count: int, timeout: float = 5.0) -> int:
    """``broker.dead_letters(queue)`` once it reached ``count`` or ``timeout`` passed
    (RabbitMQ dead-letters asynchronously)."""
    deadline = time.monotonic() + timeout
    while broker.dead_letters(queue) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return broker.dead_letters(queue)


def depth_becomes(broker: KombuBroker, queue: str, expected: int, timeout: float = 10.0) -> None:
    """Wait until ``broker.queue_depth(queue)`` is ``expected`` (RabbitMQ counts a publish
    made on another connection a little later); fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (depth := broker.queue_depth(queue)) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert depth == expected, f"queue {queue!r} holds {depth} messages, not {expected}"


def publish_raw(broker: KombuBroker, body: str, content_type: str) -> None:
    """Publish ``body`` to ``default`` as it is, bypassing the envelope encoding."""
    broker.purge(["default"])  # declares the queue as the broker does
    conn = broker.connection()
    try:
        queue = broker.queue_name("default")
        conn.Producer().publish(body, exchange="", routing_key=queue, content_type=content_type)
    finally:
        conn.release()


class BrokerContract:
    """What pynenc needs from a broker transport; subclass it with a ``broker_url`` fixture
    (or override ``broker``). Each test starts on empty queues of its own app id."""

    @pytest.fixture
    def broker(self, broker_url: str) -> Iterator[KombuBroker]:
        """The broker under test; needs a ``broker_url`` fixture."""
        instance = KombuBroker(broker_url, f"contract-{uuid.uuid4().hex[:8]}")
        yield instance
        instance.purge(["default", "other"])
        instance.close()

    def test_round_trip_preserves_the_envelope(self, broker: KombuBroker) -> None:
        sent = Envelope(
            "inv-1",
            "pkg.mod.task",
            {"a": '"x"', "b": "[1]"},
            "json",
            "default",
            num_retries=2,
            parent_id="p-1",
            priority=4,
        )
        broker.publish([sent])
        assert drain(broker, ["default"], 1) == [sent]

    def test_fifo_order_within_a_queue(self, broker: KombuBroker) -> None:
        broker.publish([sample_envelope(i) for i in range(20)])
        got = drain(broker, ["default"], 20)
        assert [e.invocation_id for e in got] == [f"inv-{i}" for i in range(20)]

    def test_queues_are_separate(self, broker: KombuBroker) -> None:
        broker.publish([sample_envelope(1, "other"), sample_envelope(2, "default")])
        assert [e.invocation_id for e in drain(broker, ["default"], 1)] == ["inv-2"]
        assert [e.invocation_id for e in drain(broker, ["other"], 1)] == ["inv-1"]

    def test_apps_are_isolated(self, broker: KombuBroker) -> None:
        other = KombuBroker(broker.url, broker.app_id + "-other")
        try:
            other.publish([sample_envelope(9)])
            consumer = broker.consumer(["default"], prefetch=1)
            try:
                assert consumer.get(1, timeout=0.1) == []
            finally:
                consumer.close()
        finally:
            other.purge(["default"])
            other.close()

    def test_limit_is_respected(self, broker: KombuBroker) -> None:
        broker.publish([sample_envelope(i) for i in range(5)])
        consumer = broker.consumer(["default"], prefetch=5)
        try:
            first = collect(consumer, 2)
            assert len(first) == 2
            assert len(consumer.get(2, timeout=1)) <= 2
        finally:
            consumer.close()

    def test_prefetch_bounds_unacked_messages(self, broker: KombuBroker) -> None:
        broker.publish([sample_envelope(i) for i in range(6)])
        first = broker.consumer(["default"], prefetch=2)
        second: Any = None
        try:
            held = collect(first, 2)
            assert len(held) == 2
            assert first.get(5, timeout=0.3) == []  # asks for more than it may hold
            held[0].ack()
            held += collect(first, 1)
            assert len(held) == 3
            # the rest stayed on the broker for other consumers
            second = broker.consumer(["default"], prefetch=10)
            rest = collect(second, 3)
            assert len(rest) == 3
            assert second.get(1, timeout=0.3) == []
            ids = {d.envelope.invocation_id for d in held + rest if d.envelope}
            assert ids == {f"inv-{i}" for i in range(6)}
        finally:
            first.close()
            if second is not None:
                second.close()

    def test_priorities_are_honoured(self, broker: KombuBroker) -> None:
        if broker.info.priority is PriorityOrder.NONE:
            pytest.skip(f"{broker.url} orders messages FIFO whatever their priority")
        priorities = [None, 1, 9, 5, 0, 9]
        broker.publish([sample_envelope(i, priority=p) for i, p in enumerate(priorities)])
        got = drain(broker, ["default"], 6, prefetch=1)
        assert [e.invocation_id for e in got] == [
            "inv-2", "inv-5", "inv-3", "inv-1", "inv-0", "inv-4"
        ]  # fmt: skip

    def test_waiting_consumer_wakes_on_publish(self, broker: KombuBroker) -> None:
        consumer = broker.consumer(["default"], prefetch=1)
        got: list[Envelope] = []
        ready = threading.Event()

        def consume() -> None:
            ready.set()
            for delivery in consumer.get(1, timeout=5):
                assert delivery.envelope is not None
                got.append(delivery.envelope)
                delivery.ack()

        thread = threading.Thread(target=consume)
        thread.start()
        ready.wait()
        broker.publish([sample_envelope(3)])
        thread.join(10)
        consumer.close()
        assert [e.invocation_id for e in got] == ["inv-3"]

    def test_malformed_message_is_reported_not_raised(self, broker: KombuBroker) -> None:
        publish_raw(broker, "not an envelope", "application/x-pynenc-envelope+json")
        consumer = broker.consumer(["default"], prefetch=1)
        try:
            [delivery] = collect(consumer, 1)
            assert delivery.envelope is None
            assert delivery.error is not None and "not JSON" in str(delivery.error)
            delivery.reject()
            assert consumer.get(1, timeout=0.05) == []
        finally:
            consumer.close()

    def test_foreign_message_is_dead_lettered(self, broker: KombuBroker) -> None:
        publish_raw(broker, '{"task": "celery.thing", "args": []}', "application/json")
        broker.publish([sample_envelope(1)])
        consumer = broker.consumer(["default"], prefetch=2)
        try:
            deliveries = collect(consumer, 2)
            foreign = [d for d in deliveries if d.envelope is None]
            assert len(foreign) == 1 and "not a pynenc" in str(foreign[0].error)
            foreign[0].reject()
            for delivery in deliveries:
                if delivery.envelope is not None:
                    delivery.ack()
            assert wait_dead_letters(broker, "default", 1) == 1
            assert consumer.get(1, timeout=0.1) == []
        finally:
            consumer.close()

    def test_batch_messages_carry_several_envelopes(self, broker: KombuBroker) -> None:
        envelopes = [sample_envelope(i) for i in range(10)] + [sample_envelope(10, queue="other")]
        broker.publish(envelopes, per_message=4)
        consumer = broker.consumer(["default", "other"], prefetch=10)
        try:
            deliveries = collect(consumer, 4)
            sizes = sorted(len(d.envelopes) for d in deliveries)
            for delivery in deliveries:
                delivery.ack()
        finally:
            consumer.close()
        # runs of one task and queue, 4 at most: 4 + 4 + 2 on default, 1 on other
        assert sizes == [1, 2, 4, 4]
        got = sorted(e.invocation_id for d in deliveries for e in d.envelopes)
        assert got == sorted(e.invocation_id for e in envelopes)
        assert all(d.envelope is None for d in deliveries if len(d.envelopes) > 1)

    def test_ack_all_settles_those_deliveries_and_no_others(self, broker: KombuBroker) -> None:
        """``Delivery.ack_all`` (a runner's claimed batch) acks exactly what it is given,
        whether or not older deliveries are still unsettled; settling again is a no-op."""
        broker.publish([sample_envelope(i) for i in range(6)])
        consumer = broker.consumer(["default"], prefetch=6)
        try:
            held = collect(consumer, 6)
            assert len(held) == 6
            Delivery.ack_all(held[:2])  # the oldest
            Delivery.ack_all(held[3:5])  # with inv-2 still unsettled
            held[0].ack()  # settled already
            for delivery in (held[2], held[5]):
                delivery.requeue()
            back = sorted(d.envelope.invocation_id for d in collect(consumer, 2) if d.envelope)
            assert back == ["inv-2", "inv-5"]
            assert consumer.get(1, timeout=0.3) == []
        finally:
            consumer.close()

    def test_purge_drops_waiting_messages(self, broker: KombuBroker) -> None:
        broker.publish([sample_envelope(i) for i in range(3)])
        assert broker.purge(["default"]) == 3
        consumer = broker.consumer(["default"], prefetch=1)
        try:
            assert consumer.get(1, timeout=0.05) == []
        finally:
            consumer.close()

    def test_queue_depth_counts_waiting_messages(self, broker: KombuBroker) -> None:
        assert broker.queue_depth("default") == 0  # not declared yet: declared, empty
        others = [sample_envelope(9, queue="other")]
        broker.publish([sample_envelope(i) for i in range(3)] + others)
        depth_becomes(broker, "default", 3)
        assert broker.queue_depth(["default", "other"]) == 4
        consumer = broker.consumer(["default"], prefetch=1)
        try:
            [held] = collect(consumer, 1)
            depth_becomes(broker, "default", 2)  # delivered, unacked: no longer waiting
            held.ack()  # (AMQP then delivers the next one to this consumer's buffer)
        finally:
            consumer.close()  # what it buffered goes back
        depth_becomes(broker, "default", 2)
        broker.purge(["default", "other"])
        depth_becomes(broker, "default", 0)

    def test_wake_interrupts_a_waiting_consumer(self, broker: KombuBroker) -> None:
        """Where consumers wait in this process (``broker.wake_interrupts``: memory://,
        sqlite://) ``wake`` ends a long wait at once; elsewhere it does nothing. Either
        way the consumer goes on receiving."""
        wait = 60.0 if broker.wake_interrupts else 0.5
        consumer = broker.consumer(["default"], prefetch=1)
        try:
            waiting = threading.Event()
            took: list[float] = []

            def wait_long() -> None:
                start = time.monotonic()
                waiting.set()
                assert consumer.get(1, timeout=wait) == []
                took.append(time.monotonic() - start)

            thread = threading.Thread(target=wait_long)
            thread.start()
            waiting.wait(10)
            broker.wake()
            thread.join(60)
            assert took and took[0] < 30  # far below the 60 s it asked for
            broker.wake()  # before a get: that get does not wait either
            start = time.monotonic()
            assert consumer.get(1, timeout=wait) == []
            assert time.monotonic() - start < 30
            broker.publish([sample_envelope(1)])
            [delivery] = collect(consumer, 1)
            assert delivery.envelope is not None and delivery.envelope.invocation_id == "inv-1"
            delivery.ack()
        finally:
            consumer.close()


class BrokerSigningContract:
    """Signed messages are accepted, unsigned and poison ones dead-lettered unread, on the
    transport of a ``broker_url`` fixture (or override ``brokers``)."""

    @pytest.fixture
    def brokers(self, broker_url: str) -> Iterator[tuple[KombuBroker, KombuBroker]]:
        """A signing broker and a plain one, on the same queues."""
        app_id = f"signing-{uuid.uuid4().hex[:8]}"
        signing = KombuBroker(broker_url, app_id, signing_keys=[SIGNING_KEY])
        plain = KombuBroker(broker_url, app_id)
        yield signing, plain
        signing.purge(["default"])
        signing.close()
        plain.close()

    def test_signed_accepted_unsigned_and_poison_dead_lettered_unread(
        self,
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
        consumer, deliveries = collect_from(signing, 3)
        try:
            assert len(deliveries) == 3  # in an order that depends on the transport's priorities
            [signed] = [d for d in deliveries if d.error is None]
            assert signed.envelopes == [envelope]
            refused = [d for d in deliveries if d.error is not None]
            assert all(isinstance(d.error, SignatureError) and not d.envelopes for d in refused)
            signed.ack()
            for delivery in refused:
                delivery.reject()
            assert wait_dead_letters(signing, "default", 2) == 2
        finally:
            consumer.close()
        # a runner without keys still takes signed messages (turn signing on callers first)
        signing.publish([envelope])
        consumer, [delivery] = collect_from(plain, 1)
        try:
            assert delivery.envelopes == [envelope]
            delivery.ack()
        finally:
            consumer.close()

    def test_poison_body_is_reported_and_dead_lettered(
        self,
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
        consumer, [poison] = collect_from(plain, 1)
        try:
            assert not poison.envelopes and "deeper than" in str(poison.error)
            poison.reject()
            assert wait_dead_letters(plain, "default", 1) == 1
        finally:
            consumer.close()
