"""kombu's py-amqp transport with a ``Message`` class that never decompresses, over a TCP
transport that reads what the socket holds rather than each frame's parts one by one.

AMQP carries bodies and properties natively (no wrapper to parse), so the only step of
kombu's that runs on a received message before pynenc's bounds is the decompression of a
body with a ``compression`` header; :func:`~pynenc.broker.guard.refuse_compression` moves
the header aside and the runner dead-letters the message as it arrived.

py-amqp reads a frame in three ``recv`` calls of exactly the bytes it needs next (header,
payload, end octet): nine system calls per delivered message (method, header and body
frames), each one releasing and taking back the GIL, which a runner's worker threads are
waiting for. :class:`BufferedTCPTransport` asks the socket for up to
:data:`READ_CHUNK` bytes at a time and serves the frames from that buffer: a message, or
a prefetch's worth of them, costs one ``recv``.

A look for frames without waiting (``drain_events(timeout=0)``: py-amqp makes one before
every publish, to see a ``connection.blocked`` or ``connection.close`` from the server in
time; a consumer makes one after the messages it received) costs py-amqp two ``ioctl``
calls (the socket's timeout set and reset), a ``recv`` and three exceptions when nothing
is there, the usual case: a quarter of a publish. :class:`Connection` answers it from the
buffer and one ``poll`` instead, and reads as before when something is there.

py-amqp reads each frame (a message is three) inside ``having_timeout``, which sets the
socket's timeout and sets it back: two ``ioctl`` per frame, ~7 per message, even when the
frame is already in the buffer and the socket is not read at all. A frame held whole in the
buffer is read without them.
"""

from __future__ import annotations

import errno
import select
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from amqp.transport import TCPTransport
from kombu.transport import pyamqp

from pynenc.broker.guard import refuse_compression

#: Most bytes asked of the socket at once (more than a prefetch of small messages).
READ_CHUNK = 64 * 1024

_RETRY = (errno.EAGAIN, errno.EINTR)
#: an AMQP frame: type (octet), channel (short), payload size (long); then the payload and
#: the frame-end octet
_FRAME_HEADER = struct.Struct(">BHI")


class BufferedTCPTransport(TCPTransport):  # type: ignore[misc]
    """py-amqp's TCP transport, reading the socket in chunks of up to :data:`READ_CHUNK`.

    ``_read_buffer`` keeps the bytes received and not consumed yet, as py-amqp's own
    ``read_frame`` expects (it puts a partly read frame back there on a timeout).
    """

    _read_buffer: bytes
    _poller: Any = None

    def nothing_to_read(self) -> bool:
        """Nothing buffered and nothing on the socket (an error or a close counts as
        something: reading it raises as it should)."""
        if self._read_buffer:
            return False
        poller = self._poller
        if poller is None:
            poller = self._poller = select.poll()
            poller.register(self.sock.fileno(), select.POLLIN)
        return not poller.poll(0)

    def frame_buffered(self) -> bool:
        """Whether a whole frame waits in the buffer (reading it needs no system call)."""
        held = self._read_buffer
        if len(held) < _FRAME_HEADER.size:
            return False
        size: int = _FRAME_HEADER.unpack_from(held)[2]
        return len(held) >= _FRAME_HEADER.size + size + 1

    @contextmanager
    def having_timeout(self, timeout: float | None) -> Iterator[Any]:
        """py-amqp's, which sets the socket's timeout for the read and sets it back, except
        when the frame to read is in the buffer whole: then the socket is not touched."""
        if timeout is not None and self.frame_buffered():
            yield self.sock
            return
        with super().having_timeout(timeout) as sock:
            yield sock

    def _read(self, n: int, initial: bool = False, _errnos: tuple[int, ...] = _RETRY) -> bytes:
        """The next ``n`` bytes, from the buffer, receiving more only when it runs short."""
        held: bytes = self._read_buffer
        if len(held) < n:
            held = self._receive(held, n, initial, _errnos)
        self._read_buffer = held[n:]
        return bytes(held[:n])

    def _receive(self, held: bytes, n: int, initial: bool, retry: tuple[int, ...]) -> bytes:
        pending = bytearray(held)
        try:
            while len(pending) < n:
                try:
                    chunk = self._quick_recv(max(READ_CHUNK, n - len(pending)))
                except OSError as exc:
                    if exc.errno not in retry:
                        raise
                    if initial and self.raise_on_initial_eintr:
                        raise TimeoutError() from exc  # nothing to read now
                    continue
                if not chunk:
                    raise OSError("Server unexpectedly closed connection")
                pending += chunk
        except BaseException:
            self._read_buffer = bytes(pending)  # keep what arrived for the next read
            raise
        return bytes(pending)


class Channel(pyamqp.Channel):  # type: ignore[misc]
    Message = refuse_compression(pyamqp.Message)


class Connection(pyamqp.Connection):  # type: ignore[misc]
    Channel = Channel

    def drain_events(self, timeout: float | None = None) -> None:
        """py-amqp's, with a look that must not wait answered without a system call when
        there is nothing to read (see the module's docstring)."""
        if timeout == 0:
            transport = self.transport
            if isinstance(transport, BufferedTCPTransport) and transport.nothing_to_read():
                raise TimeoutError("nothing to read")  # what py-amqp raises then
        super().drain_events(timeout)

    def Transport(  # py-amqp's name for its transport factory
        self,
        host: str,
        connect_timeout: Any,
        ssl: Any = False,
        read_timeout: Any = None,
        write_timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        if ssl:
            return super().Transport(
                host, connect_timeout, ssl, read_timeout, write_timeout, **kwargs
            )
        return BufferedTCPTransport(
            host,
            connect_timeout=connect_timeout,
            ssl=ssl,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            **kwargs,
        )


class Transport(pyamqp.Transport):  # type: ignore[misc]
    Connection = Connection


class SSLTransport(pyamqp.SSLTransport):  # type: ignore[misc]
    """``amqps://``."""

    Connection = Connection
