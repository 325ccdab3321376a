"""What fired a trigger, as argument providers and the triggered invocation see it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pynenc.records import InvocationStatus


@dataclass(frozen=True)
class TriggerEvent:
    """An event emitted with ``app.trigger.emit_event``."""

    event_id: str
    code: str
    payload: Any
    emitted_at: float  #: seconds since the epoch


@dataclass(frozen=True)
class TriggerContext:
    """One occurrence that met a condition of a trigger.

    Exactly one group of fields is set, by ``kind``: ``occasion`` for ``cron`` and
    ``interval``; ``event`` for ``event``; ``invocation_id``, ``task_key``, ``status``,
    ``result`` / ``exception`` for the outcome kinds (``status``, ``result``, ``exception``).
    With ``with_logic("and")``, ``met`` holds the occurrence that met each condition, in the
    order of the conditions (the context itself is the last one).
    """

    trigger_id: str
    kind: str
    occasion: dt.datetime | None = None
    event: TriggerEvent | None = None
    invocation_id: str | None = None
    task_key: str | None = None
    status: InvocationStatus | None = None
    result: Any = None
    exception: BaseException | None = None
    met: tuple[TriggerContext, ...] = field(default=())

    @property
    def payload(self) -> Any:
        """The event's payload (``None`` for other kinds)."""
        return None if self.event is None else self.event.payload

    def describe(self) -> dict[str, Any]:
        """A JSON description (stored in the triggered invocation's headers)."""
        found: dict[str, Any] = {"kind": self.kind}
        if self.occasion is not None:
            found["occasion"] = self.occasion.isoformat()
        if self.event is not None:
            found["event_id"] = self.event.event_id
            found["event_code"] = self.event.code
        if self.invocation_id is not None:
            found["invocation_id"] = self.invocation_id
            found["task"] = self.task_key
            found["status"] = None if self.status is None else self.status.value
        return found
