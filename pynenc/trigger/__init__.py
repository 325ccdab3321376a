"""Triggers: tasks that run by themselves, on a cron schedule, every few seconds, on an
event, or when another task ends (see ``docs/triggers.md``)."""

from pynenc.trigger.builder import TriggerBuilder
from pynenc.trigger.conditions import (
    CronCondition,
    EventCondition,
    ExceptionCondition,
    IntervalCondition,
    ResultCondition,
    StatusCondition,
)
from pynenc.trigger.context import TriggerContext, TriggerEvent
from pynenc.trigger.definition import TriggerDefinition
from pynenc.trigger.manager import TriggerManager, TriggerStatus

__all__ = [
    "TriggerBuilder",
    "TriggerContext",
    "TriggerEvent",
    "TriggerDefinition",
    "TriggerManager",
    "TriggerStatus",
    "CronCondition",
    "IntervalCondition",
    "EventCondition",
    "StatusCondition",
    "ResultCondition",
    "ExceptionCondition",
]
