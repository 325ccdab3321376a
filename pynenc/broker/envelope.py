"""The envelope: what travels through the broker for one invocation.

It carries enough to run the invocation without reading the state backend first; the state
backend stays the source of truth (a runner claims there before running).

A message holds one envelope, or a batch of envelopes that share everything but their id
and arguments (``parallelize``): one message, one claim and one ack for many invocations.

A message body is bounded before it is parsed: at most ``max_bytes`` long (the
``broker.max_message_bytes`` option) and nested at most :data:`MAX_DEPTH` deep outside its
strings. A body beyond either bound, or one that fails to parse in any way, raises
:class:`MalformedEnvelopeError`, and the runner dead-letters it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from pynenc.exceptions import BrokerError
from pynenc.records import Links

ENVELOPE_VERSION = 1
CONTENT_TYPE = "application/x-pynenc-envelope+json"

#: Default of ``broker.max_message_bytes``: room for a batch carrying 50 MB arguments.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: Deepest nesting of objects and arrays a body may have outside its strings. An envelope
#: needs 4 (message, batch, item, arguments); arguments are strings, whatever they hold.
MAX_DEPTH = 32

_STRUCTURE = re.compile(r'["\[\]{}]')


class MalformedEnvelopeError(BrokerError):
    """A message on a pynenc queue is not a pynenc envelope, or is damaged."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One invocation on the wire."""

    invocation_id: str
    task_id: str
    arguments: dict[str, str]  #: each argument encoded by ``serializer``
    serializer: str
    queue: str = "default"
    num_retries: int = 0
    parent_id: str | None = None
    #: 0-9, higher first where the transport orders priorities; ``None``: unset (as 0)
    priority: int | None = None
    #: seconds since the epoch after which it must not start (``None``: never expires);
    #: tells the claim to check the stored expiry (absent from the JSON when ``None``)
    expires: float | None = None
    #: the caller's headers (a JSON object; absent from the JSON when ``None``)
    headers: dict[str, Any] | None = None
    #: the root of its call tree when it is neither the parent nor itself (see
    #: :func:`pynenc.records.root_of`; absent from the JSON when ``None``)
    root_id: str | None = None
    #: how it is composed with others (:class:`pynenc.records.Links`; absent when ``None``)
    links: Links | None = None

    def encode(self) -> str:
        return json.dumps(
            {**self._shared(), "id": self.invocation_id, "args": self.arguments},
            separators=(",", ":"),
        )

    @property
    def batch_key(self) -> tuple[object, ...]:
        """Envelopes with equal keys may travel in one message."""
        return (
            self.task_id,
            self.serializer,
            self.queue,
            self.num_retries,
            self.parent_id,
            self.priority,
            self.expires,
            self.headers,
            self.root_id,
            self.links,
        )

    def _shared(self) -> dict[str, Any]:
        shared = {
            "v": ENVELOPE_VERSION,
            "task": self.task_id,
            "ser": self.serializer,
            "queue": self.queue,
            "retries": self.num_retries,
            "parent": self.parent_id,
            "priority": self.priority,
        }
        if self.expires is not None:  # only calls with an expiry carry the field
            shared["expires"] = self.expires
        if self.headers is not None:  # likewise headers, and a root other than the parent
            shared["headers"] = self.headers
        if self.root_id is not None:
            shared["root"] = self.root_id
        if self.links is not None:
            shared["links"] = self.links.encode()
        return shared

    @classmethod
    def decode(cls, body: bytes | str) -> Envelope:
        """Parse a one-envelope message body; anything else raises a clear error."""
        envelopes = decode_message(body)
        if len(envelopes) != 1:
            raise MalformedEnvelopeError(
                f"Message holds {len(envelopes)} envelopes, not one: {_head(body)}"
            )
        return envelopes[0]


def encode_batch(envelopes: Sequence[Envelope]) -> str:
    """One message body for envelopes of equal :attr:`Envelope.batch_key`."""
    first = envelopes[0]
    if any(e.batch_key != first.batch_key for e in envelopes):
        raise ValueError("a batch message holds envelopes of one task, queue and parent only")
    if len(envelopes) == 1:
        return first.encode()
    batch = [[e.invocation_id, e.arguments] for e in envelopes]
    return json.dumps({**first._shared(), "batch": batch}, separators=(",", ":"))


def decode_message(body: bytes | str, max_bytes: int = MAX_MESSAGE_BYTES) -> list[Envelope]:
    """The envelopes of a message body (one, or a batch); anything else raises a clear error.

    :raises MalformedEnvelopeError: the body is longer than ``max_bytes``, nested deeper
        than :data:`MAX_DEPTH`, not JSON, or not a pynenc envelope.
    """
    raw = body_bytes(body)
    check_size(raw, max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedEnvelopeError(f"Message body is not UTF-8 text: {_head(body)}") from exc
    if too_deep(text):
        raise MalformedEnvelopeError(
            f"Message body nests arrays or objects deeper than {MAX_DEPTH} levels "
            f"(an envelope needs 4): {_head(body)}"
        )
    try:
        data: Any = json.loads(text)
    except Exception as exc:  # whatever the parser raises, the body is not ours to run
        raise MalformedEnvelopeError(
            f"Message body is not JSON ({type(exc).__name__}): {_head(body)}"
        ) from exc
    if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION:
        raise MalformedEnvelopeError(
            f"Message is not a pynenc v{ENVELOPE_VERSION} envelope: {_head(body)}"
        )
    try:
        items = data["batch"] if "batch" in data else [[data["id"], data["args"]]]
        if not isinstance(items, list) or not items:
            raise ValueError("batch must be a non-empty list")
        envelopes = [
            Envelope(
                invocation_id=str(invocation_id),
                task_id=str(data["task"]),
                arguments=dict(arguments),
                serializer=str(data["ser"]),
                queue=str(data.get("queue", "default")),
                num_retries=int(data.get("retries", 0)),
                parent_id=data.get("parent"),
                # envelopes written before priorities existed have no such field
                priority=_priority(data.get("priority")),
                expires=_expires(data.get("expires")),
                headers=_headers(data.get("headers")),
                root_id=_optional_text("root", data.get("root")),
                links=_links(data.get("links")),
            )
            for invocation_id, arguments in items
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEnvelopeError(
            f"Envelope is missing or has a bad field ({exc}): {_head(body)}"
        ) from exc
    for envelope in envelopes:
        if not all(isinstance(v, str) for v in envelope.arguments.values()):
            raise MalformedEnvelopeError(f"Envelope arguments must be strings: {_head(body)}")
    return envelopes


def body_bytes(body: bytes | str) -> bytes:
    """The bytes of a message body as it travelled (kombu gives text bodies as ``str``)."""
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)


def check_size(raw: bytes, max_bytes: int) -> None:
    """Refuse a body longer than ``max_bytes`` (``broker.max_message_bytes``)."""
    if len(raw) > max_bytes:
        raise MalformedEnvelopeError(
            f"Message body is {len(raw)} bytes, over the limit of {max_bytes} "
            f"(broker.max_message_bytes): {_head(raw)}"
        )


def too_deep(text: str) -> bool:
    """Whether arrays and objects nest deeper than :data:`MAX_DEPTH` outside strings.

    A loop over the structural characters only: each string is skipped by the json module's
    own scanner (C code), so a large argument costs about what parsing it does, and a
    poison body is refused at its 33rd opening bracket.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False  # too few openers to nest that deep (most single envelopes)
    depth = 0
    position = 0
    search = _STRUCTURE.search
    while (match := search(text, position)) is not None:
        char = match.group()
        position = match.end()
        if char == '"':
            try:
                position = scanstring(text, position)[1]
            except ValueError:
                return False  # a broken string: json.loads names the problem
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False


def _priority(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise ValueError(f"priority must be an integer 0-9 or null, got {value!r}")
    return value


def _expires(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"expires must be a number of seconds since the epoch, got {value!r}")
    return float(value)


def _headers(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise ValueError(f"headers must be an object or null, got {type(value).__name__}")


def _optional_text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name} must be a string or null, got {type(value).__name__}")


def _links(value: Any) -> Links | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"links must be an object or null, got {type(value).__name__}")
    try:
        links = Links.decode(value)
    except (TypeError, ValueError) as error:  # a delay or not_before that is no number
        raise ValueError(f"links are malformed: {error}") from None
    if links is not None and not all(
        isinstance(i, str) for i in (*links.after, *links.into, *links.then)
    ):
        raise ValueError("links must name invocations and parameters by strings")
    return links


def _head(body: bytes | str) -> str:
    text = body if isinstance(body, str) else body[:200].decode("utf-8", "replace")
    return repr(text[:120])
