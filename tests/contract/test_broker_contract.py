"""The broker contract, run on every kombu URL we support."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from pynenc.broker import Envelope, KombuBroker

BROKER_URLS = ["memory://"]


def _envelope(i: int = 0, queue: str = "default") -> Envelope:
    return Envelope(f"inv-{i}", "mod.task", {"x": str(i)}, "json", queue)


@pytest.fixture(params=BROKER_URLS)
def broker(request: pytest.FixtureRequest) -> Iterator[KombuBroker]:
    instance = KombuBroker(request.param, f"contract-{uuid.uuid4().hex[:8]}")
    yield instance
    instance.purge(["default", "other"])
    instance.close()


def _drain(broker: KombuBroker, queues: list[str], want: int) -> list[Envelope]:
    consumer = broker.consumer(queues, prefetch=want)
    got: list[Envelope] = []
    try:
        for _ in range(50):
            for delivery in consumer.get(want - len(got), timeout=0.2):
                assert delivery.envelope is not None
                got.append(delivery.envelope)
                delivery.ack()
            if len(got) >= want:
                break
    finally:
        consumer.close()
    return got


class TestBroker:
    def test_round_trip_preserves_the_envelope(self, broker: KombuBroker) -> None:
        sent = Envelope(
            "inv-1",
            "pkg.mod.task",
            {"a": '"x"', "b": "[1]"},
            "json",
            "default",
            num_retries=2,
            parent_id="p-1",
        )
        broker.publish([sent])
        assert _drain(broker, ["default"], 1) == [sent]

    def test_fifo_order_within_a_queue(self, broker: KombuBroker) -> None:
        broker.publish([_envelope(i) for i in range(20)])
        got = _drain(broker, ["default"], 20)
        assert [e.invocation_id for e in got] == [f"inv-{i}" for i in range(20)]

    def test_queues_are_separate(self, broker: KombuBroker) -> None:
        broker.publish([_envelope(1, "other"), _envelope(2, "default")])
        assert [e.invocation_id for e in _drain(broker, ["default"], 1)] == ["inv-2"]
        assert [e.invocation_id for e in _drain(broker, ["other"], 1)] == ["inv-1"]

    def test_apps_are_isolated(self, broker: KombuBroker) -> None:
        other = KombuBroker(broker.url, broker.app_id + "-other")
        try:
            other.publish([_envelope(9)])
            consumer = broker.consumer(["default"], prefetch=1)
            try:
                assert consumer.get(1, timeout=0.1) == []
            finally:
                consumer.close()
        finally:
            other.purge(["default"])
            other.close()

    def test_limit_is_respected(self, broker: KombuBroker) -> None:
        broker.publish([_envelope(i) for i in range(5)])
        consumer = broker.consumer(["default"], prefetch=5)
        try:
            first = consumer.get(2, timeout=1)
            assert len(first) == 2
            for delivery in first:
                delivery.ack()
        finally:
            consumer.close()

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
        broker.publish([_envelope(3)])
        thread.join(10)
        consumer.close()
        assert [e.invocation_id for e in got] == ["inv-3"]

    def test_malformed_message_is_reported_not_raised(self, broker: KombuBroker) -> None:
        conn = broker.connection()
        queue = broker.queue_name("default")
        producer = conn.Producer()
        broker.purge(["default"])
        producer.publish(
            "not an envelope",
            exchange="",
            routing_key=queue,
            content_type="application/x-pynenc-envelope+json",
        )
        consumer = broker.consumer(["default"], prefetch=1)
        try:
            [delivery] = consumer.get(1, timeout=1)
            assert delivery.envelope is None
            assert delivery.error is not None and "not JSON" in str(delivery.error)
            delivery.reject()
            assert consumer.get(1, timeout=0.05) == []
        finally:
            consumer.close()

    def test_purge_drops_waiting_messages(self, broker: KombuBroker) -> None:
        broker.publish([_envelope(i) for i in range(3)])
        assert broker.purge(["default"]) == 3
        consumer = broker.consumer(["default"], prefetch=1)
        try:
            assert consumer.get(1, timeout=0.05) == []
        finally:
            consumer.close()
