"""The AMQP transport reads a frame held whole in its buffer without touching the socket
(``pynenc/broker/amqp_transport.py``); one not held whole is read as py-amqp reads it, with
the socket's timeout set for the read and set back after."""

from __future__ import annotations

import struct

from pynenc.broker.amqp_transport import BufferedTCPTransport

FRAME_END = b"\xce"


def _frame(payload: bytes, frame_type: int = 1, channel: int = 1) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + FRAME_END


class FakeSocket:
    """Records what the transport asks of the socket; ``arriving`` is what recv returns."""

    def __init__(self, arriving: bytes = b"") -> None:
        self.calls: list[tuple[str, object]] = []
        self.arriving = arriving
        self.timeout: float | None = None

    def gettimeout(self) -> float | None:
        return self.timeout

    def settimeout(self, timeout: float | None) -> None:
        self.calls.append(("settimeout", timeout))
        self.timeout = timeout

    def recv(self, n: int) -> bytes:
        self.calls.append(("recv", n))
        data, self.arriving = self.arriving[:n], self.arriving[n:]
        return data


def _transport(buffered: bytes, arriving: bytes = b"") -> tuple[BufferedTCPTransport, FakeSocket]:
    transport = BufferedTCPTransport("localhost:5672")
    sock = FakeSocket(arriving)
    transport.sock = sock
    transport._quick_recv = sock.recv
    transport._read_buffer = buffered
    return transport, sock


def test_a_frame_held_whole_is_read_without_a_system_call() -> None:
    first, second = _frame(b"method"), _frame(b"x" * 300, frame_type=3)
    transport, sock = _transport(first + second)
    for expected in (b"method", b"x" * 300):
        with transport.having_timeout(1.0):
            _, _, payload = transport.read_frame()
        assert bytes(payload) == expected
    assert sock.calls == []
    assert transport._read_buffer == b""


def test_a_frame_not_held_whole_is_read_with_the_timeout_set_and_set_back() -> None:
    frame = _frame(b"y" * 100)
    transport, sock = _transport(frame[:20], arriving=frame[20:])
    assert not transport.frame_buffered()
    with transport.having_timeout(2.5):
        _, _, payload = transport.read_frame()
    assert bytes(payload) == b"y" * 100
    assert sock.calls[0] == ("settimeout", 2.5)
    assert sock.calls[-1] == ("settimeout", None)
    assert any(call[0] == "recv" for call in sock.calls)


def test_only_a_header_held_is_not_a_whole_frame() -> None:
    transport, _ = _transport(_frame(b"z" * 10)[:7])
    assert not transport.frame_buffered()
    transport._read_buffer = b""
    assert not transport.frame_buffered()
