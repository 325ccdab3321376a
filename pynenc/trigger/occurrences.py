"""Occurrences: what meets a condition, as JSON-able dicts (kept in the trigger state
while an ``"and"`` trigger waits for its other conditions).

Each has a ``kind`` and a ``key`` unique to that occurrence (the cron occasion, the interval
tick, the event id, the ended invocation): the triggered invocation's id is derived from
the trigger id and these keys, so an occurrence fires a trigger once however many runners
see it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pynenc.records import InvocationStatus
from pynenc.trigger.context import TriggerContext, TriggerEvent

if TYPE_CHECKING:
    from pynenc.app import Pynenc

Occurrence = dict[str, Any]


def time_occurrence(kind: str, index: int, occasion: float) -> Occurrence:
    return {"kind": kind, "key": f"{kind}:{index}:{occasion!r}", "occasion": occasion}


def event_occurrence(event: dict[str, Any]) -> Occurrence:
    return {"kind": "event", "key": f"event:{event['id']}", "event": event}


def outcome_occurrence(
    kind: str,
    invocation_id: str,
    task_key: str,
    status: InvocationStatus,
    result: str | None,
    error: dict[str, Any] | None,
    serializer: str | None = None,
) -> Occurrence:
    return {
        "serializer": serializer,
        "kind": kind,
        "key": f"outcome:{invocation_id}",
        "invocation_id": invocation_id,
        "task": task_key,
        "status": status.value,
        "result": result,
        "error": error,
    }


def invocation_id_for(trigger_id: str, occurrences: Sequence[Occurrence]) -> str:
    """The triggered invocation's id: the same for the same trigger and occurrences."""
    keys = "\n".join([trigger_id, *(o["key"] for o in occurrences)])
    return "trg-" + hashlib.sha256(keys.encode()).hexdigest()[:32]


def context_of(
    app: Pynenc, trigger_id: str, occurrences: Sequence[Occurrence], timezone: str
) -> TriggerContext:
    """The context a provider gets: the last occurrence, with every one in ``met``."""
    contexts = tuple(_context(app, trigger_id, o, timezone) for o in occurrences)
    last = contexts[-1]
    if len(contexts) == 1:
        return last
    return TriggerContext(**{**last.__dict__, "met": contexts})


def _context(app: Pynenc, trigger_id: str, o: Occurrence, timezone: str) -> TriggerContext:
    kind = o["kind"]
    if "occasion" in o:
        when = dt.datetime.fromtimestamp(o["occasion"], ZoneInfo(timezone))
        return TriggerContext(trigger_id, kind, occasion=when)
    if "event" in o:
        e = o["event"]
        event = TriggerEvent(e["id"], e["code"], e.get("payload"), e["at"])
        return TriggerContext(trigger_id, kind, event=event)
    from pynenc.serializer import payload_to_exception

    result = None
    if o.get("result") is not None:
        result = app.serializer_for(o.get("serializer")).loads(o["result"])
    error = o.get("error")
    return TriggerContext(
        trigger_id,
        kind,
        invocation_id=o["invocation_id"],
        task_key=o["task"],
        status=InvocationStatus(o["status"]),
        result=result,
        exception=None if error is None else payload_to_exception(error),
    )
