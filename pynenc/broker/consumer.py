"""Consuming: :class:`BrokerConsumer` (one per runner loop) and :class:`Delivery`.

A consumer holds at most ``prefetch`` unacked messages; :meth:`BrokerConsumer.get` hands out
up to ``limit`` of them and keeps the rest buffered. It outlives its connection: when the
broker goes away (a restart, a network cut) ``get`` returns ``[]`` while it reconnects with
backoff, re-declares its queues and consumes again. Deliveries received on the dropped
connection are forgotten rather than acked on a dead channel; the broker redelivers them
(AMQP at once, kombu's virtual transports as soon as the old channel can give them back).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import kombu

from pynenc.broker.connection import Backoff, close, connect, discard, restore_unacked
from pynenc.broker.envelope import CONTENT_TYPE, Envelope, MalformedEnvelopeError
from pynenc.broker.guard import REFUSED_COMPRESSION, refusal
from pynenc.broker.wakeup import MEMORY_WAKEUP
from pynenc.exceptions import BrokerError

if TYPE_CHECKING:
    from pynenc.broker.kombu_broker import KombuBroker

logger = logging.getLogger("pynenc.broker")


class Delivery:
    """One received message: its envelopes (or why it has none) and how to settle it.

    Settling a delivery whose connection was lost meanwhile does nothing: the broker
    redelivers such a message, and the runner's claim makes a second run impossible.
    """

    __slots__ = ("_consumer", "_generation", "envelopes", "error", "message")

    def __init__(self, message: Any, consumer: BrokerConsumer, generation: int) -> None:
        self.message = message
        self._consumer = consumer
        self._generation = generation
        #: one envelope, or a batch (empty: not a pynenc message, see ``error``)
        self.envelopes: list[Envelope] = []
        self.error: BrokerError | None = None
        try:
            refused = refusal(message)
            if refused is not None:
                self.error = MalformedEnvelopeError(refused)
                return
            self.envelopes = consumer.broker.open_message(message.headers, message.body)
        except BrokerError as exc:
            self.error = exc
        except Exception as exc:  # a body must never crash the consume loop: dead-letter it
            self.error = MalformedEnvelopeError(f"Message could not be decoded: {exc!r}")

    @property
    def envelope(self) -> Envelope | None:
        """The envelope of a one-envelope message (``None`` for a batch or a foreign one)."""
        return self.envelopes[0] if len(self.envelopes) == 1 else None

    def ack(self) -> None:
        self._consumer.settle(self, "ack")

    @staticmethod
    def ack_all(deliveries: Sequence[Delivery]) -> None:
        """Ack ``deliveries`` (of one consumer), with one frame where the transport and
        the order of the deliveries allow it (see :meth:`BrokerConsumer.ack_many`)."""
        if deliveries:
            deliveries[0]._consumer.ack_many(deliveries)

    def reject(self) -> None:
        """Dead-letter the message: ``<app_id>.<queue>.dead`` holds it for inspection."""
        self._consumer.settle(self, "reject")

    def requeue(self) -> None:
        """Put the message back on its queue for another delivery."""
        self._consumer.settle(self, "requeue")


class BrokerConsumer:
    """Receives from a set of queues for one runner thread."""

    def __init__(self, broker: KombuBroker, queues: list[str], prefetch: int) -> None:
        self.broker = broker
        self.queues = queues
        self.prefetch = prefetch
        self.generation = 0  #: bumped on every lost connection
        self._buffer: deque[Delivery] = deque()
        self._conn: kombu.Connection | None = None
        self._channel: Any = None
        self._consumer: kombu.Consumer | None = None
        self._producer: kombu.Producer | None = None
        self._dead_declared: set[str] = set()
        self._stale: list[tuple[kombu.Connection, Any]] = []
        self._backoff = Backoff()
        self._retry_at = 0.0
        self._lost_at: float | None = None
        self._failing = False  #: the last receive raised an unexpected error
        self._interrupts = MEMORY_WAKEUP.interrupts  #: memory://: the last interrupt seen
        #: AMQP: the delivery tags received on this connection and not settled yet, so that
        #: one ``multiple`` ack settles a batch only when it is exactly the oldest of them
        self._unsettled: set[int] | None = set() if broker.info.multiple_acks else None
        try:
            self._open()
        except broker.errors as exc:
            self._lost(exc)  # start anyway: the broker may come up later

    # -- connection ------------------------------------------------------------------------

    def _open(self) -> None:
        conn = self.broker.connection()
        try:
            connect(conn)
            channel = conn.channel()
            for queue in self.queues:
                self.broker.declare(channel, queue)
            consumer = kombu.Consumer(
                channel,
                queues=[self.broker.queue_entity(queue) for queue in self.queues],
                on_message=self._on_message,
                accept=[CONTENT_TYPE],
                prefetch_count=self.prefetch,
                auto_declare=False,
            )
            if self.broker.info.server_dead_letters:
                # AMQP counts prefetch per queue consumer by default; bound the channel so
                # several queues still share one budget of unacked messages.
                channel.basic_qos(0, self.prefetch, True)
            consumer.consume()
        except BaseException:
            self.broker.forget(conn)
            discard(conn)
            raise
        self._conn, self._channel, self._consumer = conn, channel, consumer
        self._producer = None
        self._dead_declared = set()

    def _lost(self, exc: BaseException, unexpected: bool = False) -> None:
        if unexpected:
            # Not a lost connection: a transport failed on something it received. Log each
            # one with its traceback, and keep the backoff growing across reconnects.
            self._failing = True
            logger.error(
                "Unexpected error receiving from %s on %s: %r; reconnecting",
                self.broker.masked_url,
                ", ".join(self.queues),
                exc,
                exc_info=exc,
            )
        elif self._lost_at is None:
            logger.warning(
                "Lost the broker connection (%s) consuming %s: %r; reconnecting",
                self.broker.masked_url,
                ", ".join(self.queues),
                exc,
            )
        if self._lost_at is None:
            self._lost_at = time.monotonic()
        self._buffer.clear()  # unacked on a dead channel: the broker redelivers them
        if self._unsettled is not None:
            self._unsettled.clear()
        self.generation += 1
        if self._conn is not None:
            self.broker.forget(self._conn)
            if self.broker.info.client_acks:
                self._stale.append((self._conn, self._channel))
            else:
                discard(self._conn)
        self._conn = self._channel = self._consumer = self._producer = None
        self._retry_at = time.monotonic() + self._backoff.next()

    def _reconnect(self, deadline: float) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            # The runner calls get() in a loop: wait here rather than spin on a dead server.
            time.sleep(max(0.0, min(self._retry_at, deadline) - now))
            if time.monotonic() < self._retry_at:
                return False
        try:
            self._open()
        except self.broker.errors as exc:
            logger.debug("Reconnect to %s failed: %r", self.broker.masked_url, exc)
            self._retry_at = time.monotonic() + self._backoff.next()
            return False
        for conn, channel in self._stale:
            restore_unacked(channel)
            discard(conn)
        self._stale.clear()
        down = time.monotonic() - (self._lost_at or time.monotonic())
        logger.info("Reconnected to %s after %.1f s", self.broker.masked_url, down)
        self._lost_at = None
        if not self._failing:
            self._backoff.reset()
        return True

    # -- receiving -------------------------------------------------------------------------

    def _on_message(self, message: Any) -> None:
        if self._unsettled is not None:
            self._unsettled.add(message.delivery_tag)
        self._buffer.append(Delivery(message, self, self.generation))

    def get(self, limit: int, timeout: float) -> list[Delivery]:
        """Up to ``limit`` deliveries, waiting up to ``timeout`` s for a first one.

        Deliveries beyond ``limit`` stay buffered (unacked, within the prefetch) for the
        next call. While the broker is unreachable this returns ``[]``.
        """
        deadline = time.monotonic() + timeout
        if self._conn is None and not self._reconnect(deadline):
            return []
        try:
            if self.broker.in_process:
                self._fill_in_process(limit, deadline)
            else:
                self._fill(limit, deadline)
        except self.broker.errors as exc:
            self._lost(exc)
            return []
        except Exception as exc:
            # Whatever a transport raises must not end the consume loop: start over on a
            # new connection, after the same backoff as for a lost one (no busy loop).
            self._lost(exc, unexpected=True)
            return []
        if self._failing:
            self._failing = False
            self._backoff.reset()
        return [self._buffer.popleft() for _ in range(min(limit, len(self._buffer)))]

    @property
    def waiting(self) -> int:
        """Deliveries received and buffered, not handed out yet: more than a runner's free
        slots tells it that work is queueing up (see :class:`pynenc.runner.intake.Intake`)."""
        return len(self._buffer)

    def _fill(self, limit: int, deadline: float) -> None:
        assert self._conn is not None
        if not self._buffer:
            try:
                self._conn.drain_events(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return  # nothing arrived in time
        # everything already received, within the prefetch: how much waits is then known
        self._drain_ready(max(limit, self.prefetch))

    def _drain_ready(self, limit: int) -> bool:
        """Take what is there without waiting, up to ``limit`` buffered; ``True`` if any."""
        assert self._conn is not None
        got = False
        while len(self._buffer) < limit:
            try:
                self._conn.drain_events(timeout=0)
            except TimeoutError:
                break
            got = True
        return got

    def _fill_in_process(self, limit: int, deadline: float) -> None:
        # kombu's memory transport cannot block on a read: poll without waiting, and sleep
        # on the process-wide publish counter in between (see wakeup.py).
        while True:
            seen = MEMORY_WAKEUP.snapshot()
            if self._drain_ready(max(limit, self.prefetch)) or self._buffer:
                return
            if MEMORY_WAKEUP.interrupts != self._interrupts:  # broker.wake(): return now
                self._interrupts = MEMORY_WAKEUP.interrupts
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not MEMORY_WAKEUP.wait(seen, remaining):
                return

    # -- settling --------------------------------------------------------------------------

    def settle(self, delivery: Delivery, how: str) -> None:
        """Ack, reject or requeue ``delivery`` (see :class:`Delivery`); once settled, a
        delivery is not settled again."""
        if delivery._generation != self.generation or self._conn is None:
            logger.debug("Not settling a message of a lost connection; it will be redelivered")
            return
        message = delivery.message
        unsettled = self._unsettled
        if message.acknowledged or (
            unsettled is not None and message.delivery_tag not in unsettled
        ):
            # settled already (on AMQP maybe by a multiple ack, which leaves the message's
            # own state alone): kombu would raise, and AMQP close the channel
            logger.debug("Not settling a message twice (delivery tag %s)", message.delivery_tag)
            return
        if unsettled is not None:
            unsettled.discard(message.delivery_tag)
        try:
            if how == "ack":
                message.ack()
            elif how == "requeue":
                message.requeue()
            elif self.broker.info.server_dead_letters:
                # The queue's dead-letter exchange takes it, unchanged (no header for the
                # reason, which only the log then tells).
                queue = message.delivery_info.get("routing_key") or self.queues[0]
                logger.warning(
                    "Dead-lettering a message of %s to %s: %s",
                    queue,
                    self.broker.dead_letter_queue(str(queue)),
                    delivery.error,
                )
                message.reject(requeue=False)
            else:
                self._dead_letter(delivery)
                message.ack()
        except self.broker.errors as exc:
            self._lost(exc)

    def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        """Ack ``deliveries``. On AMQP, when they are the oldest deliveries not settled yet
        (a runner settles in the order it received, so a claimed batch is), one ack with
        the ``multiple`` flag settles them all: one frame to send and for the server to
        handle instead of one per message. Otherwise each is acked on its own."""
        unsettled = self._unsettled
        live = [d for d in deliveries if d._generation == self.generation]
        if unsettled is not None and len(live) > 1 and self._conn is not None:
            tags = {d.message.delivery_tag for d in live}
            top = max(tags)
            if tags <= unsettled and all(tag in tags for tag in unsettled if tag <= top):
                last = next(d for d in live if d.message.delivery_tag == top)
                unsettled -= tags
                try:
                    last.message.ack(multiple=True)
                except self.broker.errors as exc:
                    self._lost(exc)
                return
        for delivery in deliveries:
            self.settle(delivery, "ack")

    def _dead_letter(self, delivery: Delivery) -> None:
        message = delivery.message
        queue = str(message.delivery_info.get("routing_key") or self.queues[0])
        dead = self.broker.dead_letter_queue(queue)
        logger.warning("Dead-lettering a message of %s to %s: %s", queue, dead, delivery.error)
        if self._producer is None:
            self._producer = kombu.Producer(self._channel)
        if dead not in self._dead_declared:
            self.broker.declare(self._channel, dead, dead_letters=False)
            self._dead_declared.add(dead)
        headers = dict(message.headers or {})
        if REFUSED_COMPRESSION in headers:  # dead-lettered as it arrived: still compressed
            headers["compression"] = headers.pop(REFUSED_COMPRESSION)
        headers.update({"x-original-queue": queue, "x-pynenc-error": str(delivery.error)[:500]})
        self._producer.publish(
            message.body,
            exchange="",
            routing_key=dead,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            headers=headers,
        )

    def close(self) -> None:
        """Stop consuming; buffered deliveries go back to the broker."""
        for delivery in self._buffer:
            if delivery._generation == self.generation:
                self.settle(delivery, "requeue")
        self._buffer.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            self.broker.forget(conn)
            close(conn, self.broker.errors)
        for stale, _ in self._stale:
            discard(stale)
        self._stale.clear()
