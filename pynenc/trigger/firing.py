"""Firing a trigger: the task's invocation, registered once per occurrence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pynenc.trigger.occurrences import Occurrence, context_of, invocation_id_for

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.trigger.definition import TriggerDefinition

#: The header of a triggered invocation saying what triggered it.
HEADER = "pynenc_trigger"


def fire(
    app: Pynenc,
    definition: TriggerDefinition,
    occurrences: Sequence[Occurrence],
    invocation_id: str | None = None,
) -> str:
    """Register (and publish) the triggered invocation, under the id derived from the
    trigger and its occurrences (``invocation_id``, when the caller derived it already):
    a second firing for the same occurrences (a pass repeated after a crash or a lease
    handover, an outcome noted twice) registers nothing new. The trigger pass looks the
    id up before it calls the provider; registering under it settles a race between two
    passes."""
    if invocation_id is None:
        invocation_id = invocation_id_for(definition.trigger_id, occurrences)
    task = app.resolve_task(definition.task_key)
    context = context_of(app, definition.trigger_id, occurrences, app.conf.timezone)
    arguments = definition.arguments_for(context)
    described = [dict(_describe(o)) for o in occurrences]
    header = {"trigger": definition.trigger_id, **described[-1]}
    if len(described) > 1:
        header["met"] = described
    call = task.with_options(invocation_id=invocation_id, headers={HEADER: header})
    return call(**arguments).invocation_id


def _describe(o: Occurrence) -> dict[str, object]:
    found: dict[str, object] = {"kind": o["kind"]}
    if "occasion" in o:
        found["occasion"] = o["occasion"]
    if "event" in o:
        found["event_id"] = o["event"]["id"]
        found["event_code"] = o["event"]["code"]
    if "invocation_id" in o:
        found["invocation_id"] = o["invocation_id"]
        found["task"] = o["task"]
        found["status"] = o["status"]
    return found
