"""Guards on what kombu parses before pynenc sees a message.

pynenc bounds and dead-letters the bodies it decodes (:mod:`pynenc.broker.envelope`), but
two things happen inside kombu first, where anyone with write access to the broker reaches:

* kombu's virtual transports (Redis, our SQLite) keep each message in a JSON wrapper of
  their own, which kombu parses with no bound and no error handling: a list item of garbage
  (or ``[[[…]]]`` 100 000 deep) raised out of ``drain_events`` and lost the message.
  :class:`GuardedChannel` bounds the wrapper (size, depth) and checks its shape before
  kombu reads it; an item that is not a kombu message is dead-lettered as raw bytes.
* kombu decompresses a body carrying a ``compression`` header while it builds the
  ``Message``, before any size check: a 400 KB zlib bomb became 400 MB. pynenc never
  compresses, so :func:`refuse_compression` gives a transport's ``Message`` class a step
  that moves the header aside (to :data:`REFUSED_COMPRESSION`) before kombu sees it, and
  :func:`refusal` tells :class:`~pynenc.broker.consumer.Delivery` to dead-letter such a
  message as it arrived, still compressed.

pynenc's broker selects these transport classes explicitly; Celery in the same process keeps
kombu's own.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kombu.message import Message

from pynenc.broker.envelope import MalformedEnvelopeError, body_bytes, check_size, too_deep

logger = logging.getLogger("pynenc.broker")

#: Where a received message's ``compression`` header is moved to (never decompressed).
REFUSED_COMPRESSION = "x-pynenc-refused-compression"
#: Content encodings pynenc accepts: the charset it publishes ("utf-8"), and kombu's marker
#: for raw bytes. Anything else ("gzip", …) is a body pynenc would have to decode first.
ACCEPTED_ENCODINGS = frozenset({"utf-8", "utf8", "binary"})
#: Room for a kombu wrapper around a body of ``broker.max_message_bytes``: virtual
#: transports keep bodies base64-encoded (4/3 the size) beside headers and properties.
WRAPPER_SLACK = 64 * 1024


def dead_letter_queue(name: str) -> str:
    """Where rejected messages of queue ``name`` (a full name) go."""
    return f"{name}.dead"


def wrapper_limit(max_bytes: int) -> int:
    """The longest kombu wrapper that may hold a body of ``max_bytes``."""
    return max_bytes * 4 // 3 + 4 + WRAPPER_SLACK


def load_wrapper(raw: bytes | str, max_bytes: int) -> dict[str, Any]:
    """Parse a virtual transport's stored message, bounded; raise if it is not one.

    :raises MalformedEnvelopeError: longer than :func:`wrapper_limit`, nested too deep,
        not JSON, or not shaped as kombu's wrapper (``body``, ``properties`` with a
        ``delivery_tag``, ``headers``).
    """
    data = body_bytes(raw)
    try:
        check_size(data, wrapper_limit(max_bytes))
    except MalformedEnvelopeError as exc:
        raise MalformedEnvelopeError(f"Not a kombu message: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedEnvelopeError("Not a kombu message: not UTF-8 text") from None
    if too_deep(text):
        raise MalformedEnvelopeError("Not a kombu message: nested too deep") from None
    try:
        payload: Any = json.loads(text)
    except Exception as exc:  # whatever the parser raises, it is not kombu's wrapper
        raise MalformedEnvelopeError(
            f"Not a kombu message: not JSON ({type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict):
        raise MalformedEnvelopeError("Not a kombu message: not a JSON object")
    properties = payload.get("properties")
    if not isinstance(properties, dict) or not isinstance(
        properties.get("delivery_tag"), (str, int)
    ):
        raise MalformedEnvelopeError("Not a kombu message: no properties.delivery_tag")
    if not isinstance(properties.setdefault("delivery_info", {}), dict):
        raise MalformedEnvelopeError("Not a kombu message: bad properties.delivery_info")
    if not isinstance(payload.get("body"), (str, type(None))):
        raise MalformedEnvelopeError("Not a kombu message: its body is not a string")
    if not isinstance(payload.get("headers") or {}, dict):
        raise MalformedEnvelopeError("Not a kombu message: its headers are not an object")
    for key in ("content-type", "content-encoding"):
        if not isinstance(payload.get(key), (str, type(None))):
            raise MalformedEnvelopeError(f"Not a kombu message: bad {key}")
    return payload


class CompressionRefused(Message):  # type: ignore[misc]
    """The step :func:`refuse_compression` puts before kombu's ``Message.__init__``."""

    __slots__ = ()

    def __init__(self, *args: Any, headers: Any = None, **kwargs: Any) -> None:
        if isinstance(headers, dict) and "compression" in headers:
            headers = dict(headers)
            headers[REFUSED_COMPRESSION] = str(headers.pop("compression"))[:200]
        super().__init__(*args, headers=headers, **kwargs)


def refuse_compression(message_class: type[Any]) -> type[Any]:
    """``message_class`` (a transport's) that never decompresses a body.

    Each transport's ``Message`` computes its headers, then calls kombu's base
    ``Message.__init__`` (which decompresses); :class:`CompressionRefused` sits between the
    two in the MRO.
    """
    return type(
        message_class.__name__,
        (message_class, CompressionRefused),
        {"__module__": message_class.__module__, "__qualname__": message_class.__qualname__},
    )


def refusal(message: Any) -> str | None:
    """Why a received message is refused before its body is looked at (``None``: it is not)."""
    headers = message.headers or {}
    if REFUSED_COMPRESSION in headers:
        return (
            f"Message is compressed ({headers[REFUSED_COMPRESSION]}); pynenc never compresses "
            "messages, so it is refused without decompressing"
        )
    encoding = message.content_encoding
    if encoding and str(encoding).lower() not in ACCEPTED_ENCODINGS:
        return (
            f"Message has content encoding {str(encoding)[:100]!r}; pynenc publishes utf-8 "
            "only, so it is refused without decoding"
        )
    return None


class GuardedChannel:
    """For a kombu virtual channel: open stored items with bounds, dead-letter the rest.

    Mixed into a channel class before kombu's; ``max_message_bytes`` comes from the
    transport options (pynenc's broker sets it from ``broker.max_message_bytes``).
    """

    max_message_bytes: int = 256 * 1024 * 1024
    Message: Any

    def open_item(self, raw: bytes | str, queue: str) -> dict[str, Any] | None:
        """The kombu message stored as ``raw`` on ``queue``; ``None`` once dead-lettered."""
        try:
            payload = load_wrapper(raw, int(self.max_message_bytes))
            # kombu decodes the body (base64) building a Message: try it here, where a
            # failure is ours to handle, not inside the transport's delivery callback.
            self.Message(payload, channel=self)
        except MalformedEnvelopeError as exc:
            reason = str(exc)
        except Exception as exc:  # a stored item must never crash the consume loop
            reason = f"Not a kombu message: {exc!r}"[:500]
        else:
            return payload
        self.dead_letter_raw(body_bytes(raw), queue, reason)
        return None

    def dead_letter_raw(self, raw: bytes, queue: str, reason: str) -> None:
        """Put ``raw`` on ``queue``'s dead-letter queue, wrapped as a kombu message."""
        dead = dead_letter_queue(queue)
        logger.warning(
            "Dead-lettering an item of %s (%d bytes) to %s: %s", queue, len(raw), dead, reason
        )
        channel: Any = self
        message = channel.prepare_message(
            raw,
            0,
            "application/octet-stream",
            "binary",
            {"x-original-queue": queue, "x-pynenc-error": reason[:500]},
        )
        channel.basic_publish(message, "", dead)
