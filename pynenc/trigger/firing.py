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


def fire(app: Pynenc, definition: TriggerDefinition, occurrences: Sequence[Occurrence]) -> str:
    """Register (and publish) the triggered invocation; its id. A second firing for the
    same occurrences returns the same id and registers nothing."""
    task = app.resolve_task(definition.task_key)
    context = context_of(app, definition.trigger_id, occurrences, app.conf.timezone)
    arguments = definition.arguments_for(context)
    if definition.provider is not None:  # fixed arguments were checked at declaration
        definition.check_arguments(task, arguments)
    described = [dict(_describe(o)) for o in occurrences]
    header = {"trigger": definition.trigger_id, **described[-1]}
    if len(described) > 1:
        header["met"] = described
    invocation_id = invocation_id_for(definition.trigger_id, occurrences)
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
        found["status"] = o["status"]
    return found
