"""The broker: one implementation over kombu, for any kombu URL.

Publishing uses one connection and producer per thread (kombu objects are not
thread-safe), batches a list of envelopes where the transport can (Redis pipeline, one
SQLite transaction), and retries on connection errors within ``publish_retries``.
Consuming uses a :class:`~pynenc.broker.consumer.BrokerConsumer` per runner loop, with a
bounded prefetch; messages are acked by the runner once its claim is recorded. What differs
between transports (priorities, dead letters, default options) is data in
:mod:`pynenc.broker.transports`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import kombu

from pynenc.broker.confirms import Confirmer
from pynenc.broker.connection import Backoff, close, connect, discard, retryable_errors
from pynenc.broker.consumer import BrokerConsumer, Delivery
from pynenc.broker.envelope import (
    CONTENT_TYPE,
    MAX_MESSAGE_BYTES,
    Envelope,
    body_bytes,
    check_size,
    decode_message,
    encode_batch,
)
from pynenc.broker.guard import dead_letter_queue
from pynenc.broker.signing import SIGNATURE_HEADER, Signer
from pynenc.broker.transports import check_broker_url, load_transport, transport_info
from pynenc.broker.wakeup import MEMORY_WAKEUP, Wakeup
from pynenc.conf.masking import masked_url, scheme_of
from pynenc.exceptions import BrokerError

__all__ = ["BrokerConsumer", "Delivery", "KombuBroker"]

logger = logging.getLogger("pynenc.broker")
#: kombu's (and AMQP's) delivery mode of a message the broker keeps on disk
PERSISTENT = 2


class _Publisher(threading.local):
    connection: kombu.Connection | None = None
    producer: kombu.Producer | None = None
    confirmer: Confirmer | None = None
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
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        signing_keys: Sequence[str] = (),
    ) -> None:
        check_broker_url(url)
        self.url = url
        self.app_id = app_id
        self.info = transport_info(url)
        self.transport_options = {**self.info.defaults, **(transport_options or {})}
        self.publish_retries = publish_retries
        self.max_message_bytes = max_message_bytes
        #: signs what is published and checks what is received (``None``: signing off)
        self.signer = Signer(signing_keys) if signing_keys else None
        self.masked_url = masked_url(url)
        self.in_process = self.info.in_process
        self._confirms = self.info.publisher_confirms and bool(
            self.transport_options.get("confirm_publish")
        )
        self._local = _Publisher()
        self._connections: list[kombu.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        probe = load_transport(url, self.info.transport_class)
        #: What a lost connection raises on this transport (retried, never a crash).
        self.errors = retryable_errors(probe)
        self.channel_errors: tuple[type[BaseException], ...] = tuple(probe.channel_errors)

    # -- names and declarations --------------------------------------------------------------

    def queue_name(self, queue: str) -> str:
        return f"{self.app_id}.{queue}"

    def dead_letter_queue(self, name: str) -> str:
        """Where rejected messages of queue ``name`` (a full name) go."""
        return dead_letter_queue(name)

    def queue_entity(self, name: str, dead_letters: bool = True) -> kombu.Queue:
        """The kombu queue ``name`` (a full name), with the arguments this transport needs."""
        arguments = (
            self.info.queue_arguments(self.dead_letter_queue(name)) if dead_letters else None
        )
        return kombu.Queue(name, routing_key=name, queue_arguments=arguments)

    def declare(self, channel: Any, name: str, dead_letters: bool = True) -> None:
        """Declare queue ``name`` (and, on AMQP, the dead-letter queue it routes to)."""
        # kombu's memory transport creates queues with an unlocked check-then-set; two
        # threads declaring the same queue at once could each create one. Serialise.
        try:
            with self._lock:
                if dead_letters and self.info.server_dead_letters:
                    self.queue_entity(self.dead_letter_queue(name), False)(channel).declare()
                self.queue_entity(name, dead_letters)(channel).declare()
        except self.channel_errors as exc:
            raise BrokerError(
                f"Cannot declare queue {name!r} on broker {self.masked_url}: {exc}. A queue "
                "that already exists with other arguments must be deleted first (on AMQP, "
                "pynenc declares x-max-priority and a dead-letter queue)."
            ) from exc

    # -- connections -------------------------------------------------------------------------

    def connection(self, **override: Any) -> kombu.Connection:
        """A new kombu connection to this broker (closed with the broker).

        ``override`` replaces transport options for this connection only.
        """
        if os.getpid() != self._pid:
            self._after_fork()
        options = {**self.transport_options, **override}
        if self.info.guarded_items:
            options.setdefault("max_message_bytes", self.max_message_bytes)
        conn = kombu.Connection(
            self.url, transport=self.info.transport_class, transport_options=options
        )
        with self._lock:
            self._connections.append(conn)
        return conn

    def forget(self, conn: kombu.Connection) -> None:
        """Stop tracking ``conn`` (its owner closes it)."""
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)

    def _after_fork(self) -> None:
        # A forked child (ProcessRunner) must not touch its parent's sockets or SQLite
        # handles: closing them would also close the parent's. Forget them and start over;
        # the lock may have been held by a parent thread at the fork.
        self._pid = os.getpid()
        self._local = _Publisher()
        self._connections = []
        self._lock = threading.Lock()

    def _producer(self) -> tuple[_Publisher, kombu.Producer]:
        if os.getpid() != self._pid:
            self._after_fork()
        local = self._local
        if local.producer is None:
            # With confirms on, pyamqp would wait after every message: wait per batch instead.
            conn = self.connection(**({"confirm_publish": False} if self._confirms else {}))
            try:
                connect(conn)
                local.producer = kombu.Producer(conn.channel())
                local.confirmer = Confirmer(local.producer.channel) if self._confirms else None
            except BaseException:
                self.forget(conn)
                discard(conn)
                raise
            local.connection = conn
            local.declared = set()
        return local, local.producer

    def _drop_producer(self) -> None:
        local = self._local
        if local.connection is not None:
            self.forget(local.connection)
            discard(local.connection)
        local.connection = local.producer = local.confirmer = None

    # -- publishing --------------------------------------------------------------------------

    def publish(self, envelopes: Sequence[Envelope], per_message: int = 1) -> None:
        """Send every envelope to its queue, retrying on connection errors.

        With ``per_message`` > 1, consecutive envelopes of one task, queue and parent
        travel together, up to ``per_message`` in a message.

        Raises :class:`BrokerError` naming the broker and the queue once
        ``publish_retries`` retries have failed. A batch interrupted by a failure is sent
        again whole: a message may then arrive twice, which the runners' claim absorbs.
        """
        pending = _pack(envelopes, per_message)
        backoff = Backoff(first=0.2, cap=2.0)
        attempt = 0
        while pending:
            try:
                self._send(pending)
            except BrokerError:
                self._drop_producer()  # its channel is closed after a channel error
                raise
            except self.errors as exc:
                self._drop_producer()
                queue = self.queue_name(pending[0][0].queue)
                if attempt >= self.publish_retries:
                    raise BrokerError(
                        f"Could not publish to queue {queue!r} on broker {self.masked_url} "
                        f"after {attempt + 1} attempts: {exc!r}"
                    ) from exc
                if attempt == 0:
                    logger.warning(
                        "Publishing to %r on %s failed (%r); retrying up to %d times",
                        queue,
                        self.masked_url,
                        exc,
                        self.publish_retries,
                    )
                attempt += 1
                time.sleep(backoff.next())
        if self.in_process:
            MEMORY_WAKEUP.notify()

    def pushes(
        self, envelopes: Sequence[Envelope], per_message: int = 1
    ) -> list[tuple[str, str]] | None:
        """What publishing ``envelopes`` would push on a Redis broker, without sending it:
        ``(list key, item)`` per message, for a script to push with the registration
        (:mod:`pynenc.state_backend.redis_fused`). ``None`` where that is not possible
        (another transport, queues with an expiry, a key prefix, an unreachable broker
        while declaring a queue): then :meth:`publish` them."""
        try:
            local, producer = self._producer()
            capture = getattr(producer.channel, "capture", None)
            if capture is None:
                return None
            with capture() as pushed:
                if pushed is None:
                    return None
                for message in _pack(envelopes, per_message):
                    self._push_one(local, producer.channel, message)
            return list(pushed)
        except self.errors:
            self._drop_producer()
            return None

    def _send(self, pending: list[list[Envelope]]) -> None:
        """Publish ``pending``, removing from it what has been sent."""
        local, producer = self._producer()
        if local.confirmer is not None:
            # nothing counts as sent before the server confirmed it
            for message in pending:
                self._push_one(local, producer.channel, message)
                local.confirmer.published()
            local.confirmer.wait()
            pending.clear()
            return
        if len(pending) > 1 and producer.supports_batch_publish:
            with producer.batch():
                for message in pending:
                    self._publish_one(local, producer, message)
            pending.clear()
            return
        sent = 0
        try:
            for message in pending:
                self._push_one(local, producer.channel, message)  # kombu's Producer: ~15 µs more
                sent += 1
        finally:
            del pending[:sent]

    def _publish_one(
        self, local: _Publisher, producer: kombu.Producer, message: list[Envelope]
    ) -> None:
        queue, body, priority, headers = self._wire(local, producer.channel, message)
        extra: dict[str, Any] = {} if priority is None else {"priority": priority}
        if headers:
            extra["headers"] = headers
        producer.publish(
            body,
            exchange="",
            routing_key=queue,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8",
            **extra,
        )

    def _push_one(self, local: _Publisher, channel: Any, message: list[Envelope]) -> None:
        """What :meth:`_publish_one` does, handed to the channel without kombu's
        ``Producer`` (what it adds for a plain text body on the default exchange is the
        body's encoding and the persistent delivery mode): for a channel that captures,
        and for every message not sent in a ``Producer.batch()``."""
        queue, body, priority, headers = self._wire(local, channel, message)
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        properties = {"delivery_mode": PERSISTENT}
        wire = channel.prepare_message(raw, priority, CONTENT_TYPE, "utf-8", headers, properties)
        channel.basic_publish(wire, "", queue)

    def _wire(
        self, local: _Publisher, channel: Any, message: list[Envelope]
    ) -> tuple[str, str | bytes, int | None, dict[str, str]]:
        """The queue (declared once per thread), body, wire priority and headers of a
        message."""
        envelope = message[0]
        queue = self.queue_name(envelope.queue)
        if queue not in local.declared:
            self.declare(channel, queue)
            local.declared.add(queue)
        priority = self.info.wire_priority(envelope.priority)
        text = encode_batch(message)
        if self.signer is None:
            return queue, text, priority, {}
        body = text.encode("utf-8")  # signed as sent: kombu sends bytes unchanged
        return queue, body, priority, {SIGNATURE_HEADER: self.signer.sign(body)}

    def open_message(self, headers: Any, body: bytes | str) -> list[Envelope]:
        """The envelopes of a received message, once its size (and signature) are checked.

        :raises BrokerError: the message is too large, unsigned or wrongly signed (with
            signing on), or not a pynenc envelope; nothing of it is decoded before it passed.
        """
        if self.signer is None:
            return decode_message(body, self.max_message_bytes)
        raw = body_bytes(body)
        check_size(raw, self.max_message_bytes)
        self.signer.verify(headers, raw)
        return decode_message(raw, self.max_message_bytes)

    # -- consuming and administration --------------------------------------------------------

    def consumer(self, queues: Sequence[str], prefetch: int) -> BrokerConsumer:
        """A consumer of ``queues`` (unprefixed names) delivering at most ``prefetch`` unacked."""
        return BrokerConsumer(self, [self.queue_name(q) for q in queues], prefetch)

    def purge(self, queues: Iterable[str]) -> int:
        """Drop every waiting message of ``queues``; returns how many were dropped."""
        return int(self._administer(lambda channel, name: channel.queue_purge(name), queues))

    def dead_letters(self, queue: str) -> int:
        """How many messages of ``queue`` (unprefixed) sit in its dead-letter queue."""

        def count(channel: Any, name: str) -> int:
            dead = self.dead_letter_queue(name)
            declared = self.queue_entity(dead, False)(channel).queue_declare()
            return int(declared.message_count)

        return int(self._administer(count, [queue]))

    def queue_depth(self, queues: str | Iterable[str]) -> int:
        """How many messages wait in ``queues`` (an unprefixed name, or several: their
        sum), not counting those delivered to a consumer and not yet acked. A queue not
        declared yet is declared, empty.

        :raises BrokerError: the broker is unreachable.
        """
        names = [queues] if isinstance(queues, str) else list(queues)

        def count(channel: Any, name: str) -> int:
            return int(self.queue_entity(name)(channel).queue_declare().message_count)

        return int(self._administer(count, names))

    def wake(self) -> None:
        """Interrupt the waits of this process's consumers: a
        :meth:`BrokerConsumer.get` waiting for messages returns at once (maybe empty), so
        a runner loop sees a stop request now rather than after its poll timeout.

        Needed where consumers wait inside this process: ``memory://`` and ``sqlite://``
        (there it also ends the waits of other consumers of the same transport in this
        process, which just poll again). A no-op on server transports (Redis, AMQP),
        whose consumers wait on a socket for at most the poll timeout they asked for.
        """
        wakeup = self._local_wakeup()
        if wakeup is not None:
            wakeup.interrupt()

    @property
    def wake_interrupts(self) -> bool:
        """Whether :meth:`wake` ends consumers' waits here (``False``: it does nothing)."""
        return self._local_wakeup() is not None

    def _local_wakeup(self) -> Wakeup | None:
        """The in-process wake-up this broker's consumers wait on, if they have one."""
        if self.in_process:
            return MEMORY_WAKEUP
        if scheme_of(self.url) == "sqlite":
            from pynenc.broker.sqlite_transport import database_path, wakeup_for

            return wakeup_for(database_path(self.url))
        return None

    def _administer(self, action: Any, queues: Iterable[str]) -> int:
        conn = self.connection()
        try:
            connect(conn)
            channel = conn.channel()
            total = 0
            for queue in queues:
                name = self.queue_name(queue)
                self.declare(channel, name)
                total += action(channel, name) or 0
            return total
        except self.errors as exc:
            raise BrokerError(f"Broker {self.masked_url} is unreachable: {exc!r}") from exc
        finally:
            self.forget(conn)
            close(conn, self.errors)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            close(conn, self.errors)
        self._local = _Publisher()


def _pack(envelopes: Sequence[Envelope], per_message: int) -> list[list[Envelope]]:
    """The messages to send: runs of envelopes of equal batch key, ``per_message`` at most."""
    if per_message <= 1:
        return [[envelope] for envelope in envelopes]
    messages: list[list[Envelope]] = []
    for envelope in envelopes:
        last = messages[-1] if messages else None
        if last and len(last) < per_message and last[0].batch_key == envelope.batch_key:
            last.append(envelope)
        else:
            messages.append([envelope])
    return messages
