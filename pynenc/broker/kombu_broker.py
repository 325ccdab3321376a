"""The broker: one implementation over kombu, for any kombu URL.

Publishing uses one connection and producer per thread (kombu objects are not
thread-safe). Consuming uses a :class:`BrokerConsumer` owned by one runner thread, with a
bounded prefetch; messages are acked by the runner once its claim is recorded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import kombu

from pynenc.broker.envelope import CONTENT_TYPE, Envelope, MalformedEnvelopeError
from pynenc.broker.wakeup import MEMORY_WAKEUP

logger = logging.getLogger("pynenc.broker")


class Delivery:
    """One received message: its envelope (or why it has none) and how to settle it."""

    __slots__ = ("envelope", "error", "message")

    def __init__(self, message: Any) -> None:
        self.message = message
        self.envelope: Envelope | None = None
        self.error: MalformedEnvelopeError | None = None
        try:
            self.envelope = Envelope.decode(message.body)
        except MalformedEnvelopeError as exc:
            self.error = exc

    def ack(self) -> None:
        self.message.ack()

    def reject(self) -> None:
        """Drop the message without requeueing (dead-letters it where the queue has one)."""
        self.message.reject(requeue=False)


class _Publisher(threading.local):
    connection: kombu.Connection | None = None
    producer: kombu.Producer | None = None
    declared: set[str]

    def __init__(self) -> None:
        self.declared = set()


class KombuBroker:
    """Publishes envelopes to ``<app_id>.<queue>`` queues and hands out consumers."""

    def __init__(
        self,
        url: str,
        app_id: str,
        transport_options: dict[str, Any] | None = None,
        publish_retries: int = 3,
    ) -> None:
        self.url = url
        self.app_id = app_id
        self.transport_options = dict(transport_options or {})
        self.publish_retries = publish_retries
        self._local = _Publisher()
        self._connections: list[kombu.Connection] = []
        self._lock = threading.Lock()
        self.in_process = url.split("://", 1)[0] == "memory"

    def queue_name(self, queue: str) -> str:
        return f"{self.app_id}.{queue}"

    def connection(self) -> kombu.Connection:
        """A new kombu connection to this broker (closed with the broker)."""
        conn = kombu.Connection(self.url, transport_options=self.transport_options)
        with self._lock:
            self._connections.append(conn)
        return conn

    def _declare(self, channel: Any, queue: str) -> None:
        # kombu's memory transport creates queues with an unlocked check-then-set; two
        # threads declaring the same queue at once could each create one. Serialise.
        with self._lock:
            kombu.Queue(queue, routing_key=queue)(channel).declare()

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Send every envelope to its queue (one connection round per envelope)."""
        local = self._local
        if local.producer is None:
            local.connection = self.connection()
            local.producer = kombu.Producer(local.connection.default_channel)
        producer = local.producer
        for envelope in envelopes:
            queue = self.queue_name(envelope.queue)
            if queue not in local.declared:
                self._declare(producer.channel, queue)
                local.declared.add(queue)
            producer.publish(
                envelope.encode(),
                exchange="",
                routing_key=queue,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
            )
        if self.in_process:
            MEMORY_WAKEUP.notify()

    def consumer(self, queues: Sequence[str], prefetch: int) -> BrokerConsumer:
        """A consumer of ``queues`` (unprefixed names) delivering at most ``prefetch`` unacked."""
        return BrokerConsumer(self, [self.queue_name(q) for q in queues], prefetch)

    def purge(self, queues: Iterable[str]) -> int:
        """Drop every waiting message of ``queues``; returns how many were dropped."""
        conn = self.connection()
        try:
            channel = conn.channel()
            dropped = 0
            for queue in queues:
                name = self.queue_name(queue)
                self._declare(channel, name)
                dropped += channel.queue_purge(name) or 0
            return dropped
        finally:
            conn.release()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.release()
        self._local = _Publisher()


class BrokerConsumer:
    """Receives from a set of queues for one runner thread."""

    def __init__(self, broker: KombuBroker, queues: list[str], prefetch: int) -> None:
        self.broker = broker
        self.queues = queues
        self.prefetch = prefetch
        self._buffer: list[Delivery] = []
        self._conn = broker.connection()
        channel = self._conn.channel()
        for queue in queues:
            broker._declare(channel, queue)
        self._consumer = kombu.Consumer(
            channel,
            queues=[kombu.Queue(q, routing_key=q) for q in queues],
            on_message=self._on_message,
            accept=[CONTENT_TYPE],
            prefetch_count=prefetch,
        )
        self._consumer.consume()

    def _on_message(self, message: Any) -> None:
        self._buffer.append(Delivery(message))

    def get(self, limit: int, timeout: float) -> list[Delivery]:
        """Up to ``limit`` deliveries, waiting up to ``timeout`` s for a first one.

        Deliveries beyond ``limit`` stay buffered (unacked, within the prefetch) for the
        next call.
        """
        if not self._buffer:
            if self.broker.in_process:
                self._wait_in_process(limit, timeout)
            else:
                with contextlib.suppress(TimeoutError):  # nothing arrived in time
                    self._conn.drain_events(timeout=timeout)
        out, self._buffer = self._buffer[:limit], self._buffer[limit:]
        return out

    def _wait_in_process(self, limit: int, timeout: float) -> None:
        seen = MEMORY_WAKEUP.snapshot()
        if self._poll(limit):
            return
        if MEMORY_WAKEUP.wait(seen, timeout):
            self._poll(limit)

    def _poll(self, limit: int) -> bool:
        """Drain what is there without blocking, up to ``limit``; ``True`` if any."""
        got = False
        while len(self._buffer) < limit:
            try:
                self._conn.drain_events(timeout=0)
            except TimeoutError:
                break
            got = True
        return got

    def close(self) -> None:
        try:
            self._consumer.cancel()
        finally:
            self._conn.release()
