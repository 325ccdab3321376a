"""Matching what the trigger pass read against the conditions: filters that fail count as
not met, and an outcome's result and exception are decoded once for all its triggers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pynenc.trigger.conditions import OUTCOME_KINDS, OutcomeCondition
from pynenc.trigger.occurrences import Occurrence, outcome_occurrence

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.records import InvocationRecord
    from pynenc.trigger.definition import TriggerDefinition

logger = logging.getLogger("pynenc.trigger")


def match_outcome(
    app: Pynenc,
    watching: list[TriggerDefinition],
    record: InvocationRecord,
    found: dict[str, list[tuple[int, Occurrence]]],
) -> None:
    """Add the occurrence of the ended invocation ``record`` to ``found``, for each
    condition of the ``watching`` triggers it meets."""
    decoded: tuple[Any, Any] | None = None
    for definition in watching:
        for index, condition in enumerate(definition.conditions):
            if condition.kind not in OUTCOME_KINDS:
                continue
            assert isinstance(condition, OutcomeCondition)
            if condition.task_key != record.task_id:
                continue
            if decoded is None:
                decoded = _decode(app, record)
            if safely(definition, condition.matches, record.status, *decoded):
                occurrence = outcome_occurrence(
                    condition.kind,
                    record.invocation_id,
                    record.task_id,
                    record.status,
                    record.result,
                    record.error,
                    record.serializer,
                )
                found.setdefault(definition.trigger_id, []).append((index, occurrence))


def _decode(app: Pynenc, record: InvocationRecord) -> tuple[Any, Any]:
    from pynenc.serializer import payload_to_exception

    result = None
    if record.result is not None:
        try:
            result = app.serializer_for(record.serializer).loads(record.result)
        except Exception:  # a filter sees None rather than the pass failing
            logger.warning("Result of %s could not be decoded", record.invocation_id)
    error = None if record.error is None else payload_to_exception(record.error)
    return result, error


def safely(definition: TriggerDefinition, check: Any, *args: Any) -> bool:
    """``check(*args)`` as a bool; a check that raises counts as not met (logged)."""
    try:
        return bool(check(*args))
    except Exception:
        logger.exception("A filter of trigger %s failed; counted as not met", definition.trigger_id)
        return False
