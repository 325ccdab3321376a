"""The messages that announce final statuses on a Redis state backend's channel.

A message names the invocations that became final, space-separated, on its first line;
the lines after it carry each one's record as the script read it once final (a JSON array
of field, value, …), or nothing when the record was too large to send
(``RECORD_ON_MESSAGE``). A waiter woken by such a message has the final record in hand
and reads nothing again: the read after the wake-up was a round trip on every
``delay().get()``-shaped call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from pynenc.records import FINAL, InvocationRecord
from pynenc.state_backend.redis_scripts import decode_record


def announced(data: str) -> Iterator[tuple[str, str]]:
    """``(invocation id, its record as sent or '')`` for each id a message announces."""
    head, _, rest = data.partition("\n")
    records = rest.split("\n") if rest else []
    for index, invocation_id in enumerate(head.split(" ")):
        yield invocation_id, records[index] if index < len(records) else ""


def final_record(invocation_id: str, sent: str) -> InvocationRecord | None:
    """The final record a message carried for ``invocation_id``; ``None`` when it carried
    none (too large) or something that is not a final record of that id."""
    if not sent:
        return None
    try:
        pairs = json.loads(sent)
        if not isinstance(pairs, list):
            return None
        record = decode_record(invocation_id, dict(zip(pairs[::2], pairs[1::2], strict=True)))
    except (ValueError, KeyError, TypeError):
        return None
    return record if record is not None and record.status in FINAL else None
