"""The envelope: what travels through the broker for one invocation.

It carries enough to run the invocation without reading the state backend first; the state
backend stays the source of truth (a runner claims there before running).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pynenc.exceptions import BrokerError

ENVELOPE_VERSION = 1
CONTENT_TYPE = "application/x-pynenc-envelope+json"


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

    def encode(self) -> str:
        return json.dumps(
            {
                "v": ENVELOPE_VERSION,
                "id": self.invocation_id,
                "task": self.task_id,
                "args": self.arguments,
                "ser": self.serializer,
                "queue": self.queue,
                "retries": self.num_retries,
                "parent": self.parent_id,
                "priority": self.priority,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, body: bytes | str) -> Envelope:
        """Parse a message body; anything that isn't a valid envelope raises a clear error."""
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedEnvelopeError(f"Message body is not JSON: {_head(body)}") from exc
        if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION:
            raise MalformedEnvelopeError(
                f"Message is not a pynenc v{ENVELOPE_VERSION} envelope: {_head(body)}"
            )
        try:
            envelope = cls(
                invocation_id=str(data["id"]),
                task_id=str(data["task"]),
                arguments=dict(data["args"]),
                serializer=str(data["ser"]),
                queue=str(data.get("queue", "default")),
                num_retries=int(data.get("retries", 0)),
                parent_id=data.get("parent"),
                # envelopes written before priorities existed have no such field
                priority=_priority(data.get("priority")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEnvelopeError(
                f"Envelope is missing or has a bad field ({exc}): {_head(body)}"
            ) from exc
        if not all(isinstance(v, str) for v in envelope.arguments.values()):
            raise MalformedEnvelopeError(f"Envelope arguments must be strings: {_head(body)}")
        return envelope


def _priority(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise ValueError(f"priority must be an integer 0-9 or null, got {value!r}")
    return value


def _head(body: bytes | str) -> str:
    text = body if isinstance(body, str) else body[:200].decode("utf-8", "replace")
    return repr(text[:120])
