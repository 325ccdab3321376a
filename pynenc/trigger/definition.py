"""A trigger bound to its task: what the runners evaluate (plain data, comparable across
processes: the same declaration gives the same ``trigger_id`` everywhere)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import TaskDefinitionError
from pynenc.trigger.builder import TriggerBuilder
from pynenc.trigger.conditions import (
    TIME_KINDS,
    Condition,
    ExceptionCondition,
    ResultCondition,
    StatusCondition,
)
from pynenc.trigger.refs import resolve_ref

if TYPE_CHECKING:
    from pynenc.task import Task
    from pynenc.trigger.context import TriggerContext


@dataclass(frozen=True)
class TriggerDefinition:
    """One trigger of task ``task_key``."""

    trigger_id: str
    task_key: str
    conditions: tuple[Condition, ...]
    logic: str
    arguments: Mapping[str, Any] | None
    provider: str | None
    #: the name given with ``TriggerBuilder.named`` (part of the id); ``None``: none
    name: str | None = None
    #: call options of each triggered invocation (``TriggerBuilder.with_options``: queue,
    #: priority, expires, delay, headers; only those given)
    options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f" {self.logic} ".join(c.describe() for c in self.conditions)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(c.kind for c in self.conditions)

    @property
    def has_time(self) -> bool:
        return bool(self.kinds & TIME_KINDS)

    def watches(self) -> set[str]:
        """The tasks whose outcomes this trigger watches."""
        outcome = (StatusCondition, ResultCondition, ExceptionCondition)
        return {c.task_key for c in self.conditions if isinstance(c, outcome)}

    def arguments_for(self, context: TriggerContext) -> dict[str, Any]:
        """The triggered call's keyword arguments.

        :raises TaskDefinitionError: the provider returned something other than a mapping
            with string keys.
        """
        if self.provider is None:
            return dict(self.arguments or {})
        built = resolve_ref(self.provider)(context)
        if not isinstance(built, Mapping) or not all(isinstance(k, str) for k in built):
            raise TaskDefinitionError(
                f"The argument provider {self.provider} of trigger {self.trigger_id} returned "
                f"{type(built).__name__}; it must return a dict of parameter names to values"
            )
        return dict(built)

    def check_arguments(self, task: Task[Any, Any], arguments: Mapping[str, Any]) -> None:
        """:raises TaskDefinitionError: ``arguments`` (built by the provider) do not fit
        the task's parameters, naming both."""
        try:
            task.signature.bind(**arguments)
        except TypeError as exc:
            params = ", ".join(task.signature.parameters) or "none"
            raise TaskDefinitionError(
                f"The argument provider {self.provider} of trigger {self.trigger_id} built "
                f"arguments {sorted(arguments)} that do not fit the parameters of "
                f"{self.task_key} ({params}): {exc}"
            ) from exc


def define(task: Task[Any, Any], triggers: Any) -> list[TriggerDefinition]:
    """The definitions of ``triggers`` (a builder or a list of them) for ``task``.

    :raises TaskDefinitionError: not builders, a builder with no condition, arguments
        the task does not take, or two triggers with the same id or name.
    """
    builders = list(triggers) if isinstance(triggers, list | tuple) else [triggers]
    key = task.task_id.key
    found: list[TriggerDefinition] = []
    for builder in builders:
        if not isinstance(builder, TriggerBuilder):
            raise TaskDefinitionError(
                f"Task {key}: triggers= takes a TriggerBuilder or a list of them; got "
                f"{builder!r}. Build one: TriggerBuilder().on_cron('0 * * * *')"
            )
        if not builder.conditions:
            raise TaskDefinitionError(
                f"Task {key}: a TriggerBuilder has no condition, so it would never fire. Add "
                "one: on_cron, on_interval, on_event, on_status, on_success, on_result or "
                "on_exception"
            )
        _check_arguments(task, builder)
        spec = {
            "conditions": [{"kind": c.kind, **asdict(c)} for c in builder.conditions],
            "logic": builder.logic,
            "arguments": builder.arguments,
            "provider": builder.provider,
        }
        # added only when given: the ids of triggers without them stay what they were
        if builder.name is not None:
            spec["name"] = builder.name
        if builder.options:
            spec["options"] = builder.options
        try:  # no fallback for other values: the id must be the same in every process
            text = json.dumps(spec, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TaskDefinitionError(
                f"Task {key}: with_arguments values must be JSON values (dicts, lists, "
                f"strings, numbers, booleans, None): {exc}. Build others in a provider"
            ) from exc
        digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]
        found.append(
            TriggerDefinition(
                f"{key}@{digest}",
                key,
                tuple(builder.conditions),
                builder.logic,
                builder.arguments,
                builder.provider,
                builder.name,
                dict(builder.options),
            )
        )
    _check_distinct(key, found)
    return found


def _check_distinct(key: str, found: list[TriggerDefinition]) -> None:
    """:raises TaskDefinitionError: two triggers of the task are one (the same id), or share
    a name."""
    ids: dict[str, TriggerDefinition] = {}
    names: set[str] = set()
    for definition in found:
        if definition.trigger_id in ids:
            raise TaskDefinitionError(
                f"Task {key}: two of its triggers are the same ({definition.describe()}, the "
                "same arguments and options), so they would be one trigger. Remove one, or "
                "name each (TriggerBuilder().named('...')) to have both fire"
            )
        ids[definition.trigger_id] = definition
        if definition.name is not None:
            if definition.name in names:
                raise TaskDefinitionError(
                    f"Task {key}: two of its triggers are named {definition.name!r}; give "
                    "each trigger of a task its own name"
                )
            names.add(definition.name)


def _check_arguments(task: Task[Any, Any], builder: TriggerBuilder) -> None:
    if builder.provider is not None:
        return  # built per firing; checked then
    try:
        task.signature.bind(**(builder.arguments or {}))
    except TypeError as exc:
        params = ", ".join(task.signature.parameters) or "none"
        raise TaskDefinitionError(
            f"Task {task.task_id.key}: its trigger's arguments {builder.arguments or {}} do not "
            f"fit its parameters ({params}): {exc}. Give them with with_arguments({{...}}) or "
            "a provider function"
        ) from exc
