"""Firing a trigger: the task's invocation, registered once per occurrence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pynenc.trigger.occurrences import Occurrence, context_of, invocation_id_for
from pynenc.trigger.options import HEADER as HEADER  # what triggered an invocation

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.trigger.definition import TriggerDefinition


def fire(
    app: Pynenc, definition: TriggerDefinition, occurrences: Sequence[Occurrence]
) -> tuple[str, bool]:
    """Register (and publish) the triggered invocation: its id, and whether it is new. A
    second firing for the same occurrences (a pass repeated after a crash or a lease
    handover, an outcome noted twice) finds it and registers nothing; registering under
    the derived id settles a race between two of them. The trigger's call options apply
    (its headers merged with ``pynenc_trigger``)."""
    invocation_id = invocation_id_for(definition.trigger_id, occurrences)
    if app.state_backend.get_many([invocation_id])[0] is not None:
        return invocation_id, False
    task = app.resolve_task(definition.task_key)
    context = context_of(app, definition.trigger_id, occurrences, app.conf.timezone)
    arguments = definition.arguments_for(context)
    if definition.provider is not None:  # fixed arguments were checked at declaration
        definition.check_arguments(task, arguments)
    described = [dict(_describe(o)) for o in occurrences]
    header: dict[str, object] = {"trigger": definition.trigger_id}
    if definition.name is not None:
        header["name"] = definition.name
    header.update(described[-1])
    if len(described) > 1:
        header["met"] = described
    options = dict(definition.options)
    headers = {**options.pop("headers", {}), HEADER: header}
    call = task.with_options(invocation_id=invocation_id, headers=headers, **options)
    return call(**arguments).invocation_id, True


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
