"""kombu's py-amqp transport with a ``Message`` class that never decompresses.

AMQP carries bodies and properties natively (no wrapper to parse), so the only step of
kombu's that runs on a received message before pynenc's bounds is the decompression of a
body with a ``compression`` header; :func:`~pynenc.broker.guard.refuse_compression` moves
the header aside and the runner dead-letters the message as it arrived.
"""

from __future__ import annotations

from kombu.transport import pyamqp

from pynenc.broker.guard import refuse_compression


class Channel(pyamqp.Channel):  # type: ignore[misc]
    Message = refuse_compression(pyamqp.Message)


class Connection(pyamqp.Connection):  # type: ignore[misc]
    Channel = Channel


class Transport(pyamqp.Transport):  # type: ignore[misc]
    Connection = Connection


class SSLTransport(pyamqp.SSLTransport):  # type: ignore[misc]
    """``amqps://``."""

    Connection = Connection
