"""The messages that announce final statuses on a Redis state backend's channel.

A message names the invocations that became final, space-separated, on its first line;
the lines after it carry each one's record as the script read it once final (a JSON array
of field, value, …), or nothing when the record was too large to send
(``RECORD_ON_MESSAGE``). A waiter woken by such a message has the final record in hand
and reads nothing again: the read after the wake-up was a round trip on every
``delay().get()``-shaped call. Once a process listens (it waited once), it also keeps the
last records announced (:class:`RecentEnds`): a result asked for after
its end was announced costs no read at all (a final record never changes; a purge, which
may give an id to a new call, clears them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from pynenc.records import FINAL, InvocationRecord
from pynenc.state_backend.redis_scripts import decode_record

#: Ends announced on the channel a listening process keeps: at most this many…
RECENT_ENDS = 10_000
#: …holding at most this many bytes of records.
RECENT_BYTES = 4 * 1024 * 1024


class RecentEnds:
    """The last ends announced (each record as sent), by id, within :data:`RECENT_ENDS`
    and :data:`RECENT_BYTES`.

    Written by the listener thread alone; read by waiting threads (a dict's ``get`` and
    item assignment are atomic in CPython, and a trim swaps in a new dict: no lock).
    """

    def __init__(self, size: int = RECENT_ENDS, max_bytes: int = RECENT_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._sent: dict[str, str] = {}
        self._bytes = 0

    def keep(self, invocation_id: str, sent: str) -> None:
        """``sent``: the record as the message carried it, '' when too large to send."""
        self._sent[invocation_id] = sent
        self._bytes += len(sent)
        # trimmed by a tenth over either bound: amortised O(1) per end
        if len(self._sent) > self.size * 1.1 or self._bytes > self.max_bytes * 1.1:
            self._trim()

    def _trim(self) -> None:
        kept: list[tuple[str, str]] = []
        total = 0
        for item in reversed(list(self._sent.items())):
            if len(kept) >= self.size or total + len(item[1]) > self.max_bytes:
                break
            kept.append(item)
            total += len(item[1])
        self._sent = dict(reversed(kept))
        self._bytes = total

    def get(self, invocation_id: str) -> str:
        """The record sent with its end ('' when unknown, or not sent)."""
        return self._sent.get(invocation_id, "")

    def ended(self, invocation_id: str) -> bool:
        return invocation_id in self._sent

    def clear(self) -> None:
        self._sent = {}
        self._bytes = 0


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
