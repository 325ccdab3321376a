"""Connections that come back: the errors that mean "reconnect", backoff, quiet teardown.

Shared by publishing (retries within ``broker.publish_retries``) and consuming (reconnect
for as long as it takes), so both agree on which failures are worth another try.
"""

from __future__ import annotations

import logging
from typing import Any

import kombu
from kombu.exceptions import OperationalError

logger = logging.getLogger("pynenc.broker")


def retryable_errors(connection: kombu.Connection) -> tuple[type[BaseException], ...]:
    """What a lost or refused connection raises on this transport.

    ``OSError`` covers refused/reset sockets; kombu wraps some of those in its
    ``OperationalError``. Callers must catch ``TimeoutError`` (an ``OSError``: kombu's "no
    message in time") before these.
    """
    return (*connection.connection_errors, OSError, OperationalError)


def connect(connection: kombu.Connection) -> None:
    """Connect once, raising the transport's own error at once on failure.

    ``Connection.connect()`` retries once after sleeping 2 s; our callers keep their own
    backoff and must not block that long per attempt.
    """
    connection.ensure_connection(max_retries=0, reraise_as_library_errors=False)


class Backoff:
    """Exponential delays: ``first``, doubled each time, never above ``cap`` seconds."""

    def __init__(self, first: float = 0.1, cap: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


def discard(connection: kombu.Connection | None) -> None:
    """Drop a connection that may be dead, without waiting on the server.

    ``collect`` skips AMQP's close handshake, which would block on a dead socket.
    """
    if connection is None:
        return
    try:
        connection.collect(socket_timeout=0.5)
    except Exception as exc:  # a broken connection can fail in any way while torn down
        logger.debug("Ignoring an error while dropping a broker connection: %r", exc)


def close(connection: kombu.Connection, errors: tuple[type[BaseException], ...]) -> None:
    """Close ``connection`` politely; drop it if the broker no longer answers."""
    try:
        connection.release()
    except errors as exc:
        logger.debug("Broker connection closed with an error: %r", exc)
        discard(connection)


def restore_unacked(channel: Any) -> None:
    """Give back the messages a dropped virtual channel delivered but never acked.

    kombu's virtual transports (Redis, sqlite) track unacked messages on the client; the
    server side copies are put back here once the server answers again. A failure leaves
    them to the transport's visibility timeout.
    """
    qos = getattr(channel, "qos", None)
    if qos is None:
        return
    try:
        errors = qos.restore_unacked()
    except Exception as exc:  # the server is still unreachable, or the channel is unusable
        logger.warning("Unacked messages are left to the visibility timeout: %r", exc)
        return
    if errors:
        logger.warning("%d unacked messages are left to the visibility timeout", len(errors))
