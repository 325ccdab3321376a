"""kombu's Redis transport, keeping one client per channel, guarded against poison items.

kombu's Redis channel builds a new ``redis.Redis`` object for every publish (and every
other one-off command): ~70 µs of Python per message before any byte is sent, a tenth of
a call's whole cost on the caller. The client is only a handle on the channel's
connection pool, which is thread-safe, so one per channel serves every command alike.

kombu parses each list item (its JSON wrapper) unbounded and unguarded: anyone who can
``LPUSH`` to a queue could raise out of ``drain_events`` and stop a runner. Items are
opened through :class:`~pynenc.broker.guard.GuardedChannel` instead, and messages are built
by a ``Message`` class that never decompresses (:mod:`pynenc.broker.guard`).

kombu pops one item per ``BRPOP`` round trip. On Redis 7 and later a consumer here pops up
to :data:`POP_MAX` items at once (``BLMPOP``, within its prefetch): a runner that has work
waiting takes a batch per round trip instead of one message each, and claims it in one
backend call. Everything else (wire format, priorities, acks, reconnects) is kombu's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps

from pynenc.broker.guard import GuardedChannel, refuse_compression

#: Most items one blocking pop takes (``BLMPOP``; never more than the prefetch allows).
POP_MAX = 32


class Channel(GuardedChannel, kombu_redis.Channel):  # type: ignore[misc]
    Message = refuse_compression(virtual.Message)
    from_transport_options = (*kombu_redis.Channel.from_transport_options, "max_message_bytes")
    _one_off_client: Any = None
    #: whether the server pops several items at once (BLMPOP, Redis >= 7); None: not asked
    _multi_pop: bool | None = None
    #: the blocking read in flight is a BLMPOP
    _popping_many = False
    #: set by :meth:`capture`: the pushes a publish would make, kept instead of sent
    _captured: list[tuple[str, str]] | None = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self._one_off_client is None:
            self._one_off_client = self._create_client()
        yield self._one_off_client

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, str]] | None]:
        """Within the block, a publish to a queue is not sent: its ``(list key, item)`` is
        appended to the list yielded, for :mod:`pynenc.state_backend.redis_fused` to push
        in the same script that registers the invocations. Yields ``None`` (publish as
        usual) where the push needs more than one ``LPUSH``: queues with an expiry, or a
        global key prefix (the client adds it to each key it sends)."""
        if self._expires or self.global_keyprefix:
            yield None
            return
        captured: list[tuple[str, str]] = []
        self._captured = captured
        try:
            yield captured
        finally:
            self._captured = None

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        captured = self._captured
        if captured is None:
            super()._put(queue, message, **kwargs)
            return
        priority = self._get_message_priority(message, reverse=False)
        captured.append((self._q_for_pri(queue, priority), dumps(message)))

    def _brpop_start(self, timeout: float | None = None) -> None:
        if self._multi_pop is None:
            major = _server_major(self.client)
            self._multi_pop = None if major is None else major >= 7
        if not self._multi_pop or self.global_keyprefix:
            self._popping_many = False
            super()._brpop_start(timeout)
            return
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        keys = [self._q_for_pri(queue, pri) for pri in self.priority_steps for queue in queues]
        room = self.qos.can_consume_max_estimate()
        count = POP_MAX if room is None else max(1, min(room, POP_MAX))
        wait = self.brpop_timeout if timeout is None else timeout
        self._in_poll = self.client.connection
        self._brpop_sent_at = monotonic()
        self._popping_many = True
        # the first non-empty list in priority order, oldest items first (kombu LPUSHes)
        self.client.connection.send_command(
            "BLMPOP", wait or 0, len(keys), *keys, "RIGHT", "COUNT", count
        )

    def _brpop_read(self, **options: Any) -> bool:
        if self._popping_many:
            return self._pop_many_read(**options)
        # kombu reads the BRPOP reply and parses the item itself, unguarded. Its read is
        # kept whole (reconnects, re-auth, queue rotation); only the reply it gets is
        # screened first: a poison item is dead-lettered and the read sees an empty reply.
        client = self.client
        read = client.parse_response

        def screened(connection: Any, command: str, **kwargs: Any) -> Any:
            reply = read(connection, command, **kwargs)
            if command != "BRPOP" or not reply:
                return reply
            key, item = reply
            queue = bytes_to_str(key).rsplit(self.sep, 1)[0]
            return reply if self.open_item(item, queue) is not None else None

        client.parse_response = screened  # this read only: the consumer thread's client
        try:
            return bool(super()._brpop_read(**options))
        finally:
            del client.parse_response

    def _pop_many_read(self, **options: Any) -> bool:
        """Deliver what a ``BLMPOP`` brought, each item screened as one ``BRPOP``'s is."""
        client = self.client
        try:
            try:
                reply = client.parse_response(client.connection, "BLMPOP", **options)
            except self.connection_errors:
                client.connection.disconnect()  # the next poll reconnects
                raise
            if not reply:
                raise Empty()
            key, items = reply
            queue = bytes_to_str(key).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            delivered = False
            for item in items:
                payload = self.open_item(item, queue)
                if payload is not None:
                    self.connection._deliver(payload, queue)
                    delivered = True
            if not delivered:  # all of them dead-lettered
                raise Empty()
            return True
        finally:
            self._popping_many = False
            self._in_poll = None
            self._flush_brpop_reauth()

    def _get(self, queue: str) -> Any:
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                while item := client.rpop(self._q_for_pri(queue, pri)):
                    payload = self.open_item(item, queue)
                    if payload is not None:
                        self._maybe_update_queues_expire(client, queue)
                        return payload
            self._maybe_update_queues_expire(client, queue)
            raise Empty()


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel


def _server_major(client: Any) -> int | None:
    """The Redis server's major version (``None`` when it could not be asked now)."""
    try:
        version = str(client.info("server").get("redis_version", "0"))
    except Exception:  # unreachable now: asked again at the next poll
        return None
    try:
        return int(version.split(".", 1)[0])
    except ValueError:  # an unusual server: the plain BRPOP is always there
        return 0
