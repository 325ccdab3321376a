"""kombu's Redis transport, keeping one client per channel, guarded against poison items.

kombu's Redis channel builds a new ``redis.Redis`` object for every publish (and every
other one-off command): ~70 µs of Python per message before any byte is sent, a tenth of
a call's whole cost on the caller. The client is only a handle on the channel's
connection pool, which is thread-safe, so one per channel serves every command alike.

kombu parses each list item (its JSON wrapper) unbounded and unguarded: anyone who can
``LPUSH`` to a queue could raise out of ``drain_events`` and stop a runner. Items are
opened through :class:`~pynenc.broker.guard.GuardedChannel` instead, and messages are built
by a ``Message`` class that never decompresses (:mod:`pynenc.broker.guard`). Everything
else (wire format, priorities, acks, reconnects) is kombu's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str

from pynenc.broker.guard import GuardedChannel, refuse_compression


class Channel(GuardedChannel, kombu_redis.Channel):  # type: ignore[misc]
    Message = refuse_compression(virtual.Message)
    from_transport_options = (*kombu_redis.Channel.from_transport_options, "max_message_bytes")
    _one_off_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self._one_off_client is None:
            self._one_off_client = self._create_client()
        yield self._one_off_client

    def _brpop_read(self, **options: Any) -> bool:
        # kombu's own, but the item goes through open_item instead of a bare json loads.
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                # disconnect so that the next iteration reconnects (as kombu does)
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            payload = self.open_item(item, dest)
            if payload is not None:
                self.connection._deliver(payload, dest)
            return True
        finally:
            self._in_poll = None
            flush = getattr(self, "_flush_brpop_reauth", None)  # kombu >= 5.7
            if flush is not None:
                flush()

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
