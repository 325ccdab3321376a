"""Per-task options: their table, and :class:`TaskConfig`, the resolved options of one task.

The layering that produces a ``TaskConfig`` (decorator options over the environment over
config sources) lives in :meth:`pynenc.conf.AppConfig.task_config`; this module declares the
options and holds the result.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from pynenc.conf.limits import SECONDS_OR_NONE, seconds_or_none
from pynenc.conf.option import (
    DEFAULT,
    InvalidValue,
    Option,
    OptionTable,
    OptionValue,
    choices_text,
    enum_member,
    exception_refs,
    integer,
    resolve_exception_refs,
    text,
)


class ConcurrencyControlType(enum.StrEnum):
    """How many invocations of a task may be registered at the same time."""

    #: No control: every call registers a new invocation.
    DISABLED = "disabled"
    #: At most one pending invocation of the task.
    TASK = "task"
    #: At most one pending invocation per distinct set of arguments.
    ARGUMENTS = "arguments"
    #: At most one pending invocation per distinct value of the task's key arguments.
    KEYS = "keys"


#: Highest task priority; the broker maps 0-9 onto each transport's own ordering.
MAX_PRIORITY = 9


def priority(raw: Any) -> int | None:
    """``None`` (normal), or an integer 0-9 (or its text; ``none``/``null`` in text)."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "null")):
        return None
    value = integer(0)(raw)
    if value > MAX_PRIORITY:
        raise InvalidValue()
    return value


TASK_OPTIONS = OptionTable(
    "task",
    [
        Option("max_retries", 0, integer(0), "an integer >= 0", "Retries before a task fails."),
        Option(
            "retry_for",
            (),
            exception_refs,
            "exception classes or dotted import paths of Exception subclasses "
            "(comma-separated in text)",
            "Exception classes that trigger a retry.",
        ),
        Option("queue", "default", text, "a non-empty string", "Queue the invocations go to."),
        Option(
            "priority",
            None,
            priority,
            f"an integer 0-{MAX_PRIORITY} or None",
            "Priority of the task's messages: higher first where the broker orders them.",
        ),
        Option(
            "parallel_batch_size",
            100,
            integer(0),
            "an integer >= 0",
            "Invocations per batch in parallelize; 0 disables batching.",
        ),
        Option(
            "registration_concurrency",
            ConcurrencyControlType.DISABLED,
            enum_member(ConcurrencyControlType),
            choices_text(member.value for member in ConcurrencyControlType),
            "Limit on concurrently registered invocations of the task.",
        ),
        Option(
            "timeout",
            None,
            seconds_or_none,
            SECONDS_OR_NONE,
            "Hard time limit of one attempt: past it the invocation fails with "
            "TaskTimeoutError (a process runner kills the work).",
        ),
        Option(
            "soft_timeout",
            None,
            seconds_or_none,
            SECONDS_OR_NONE,
            "Soft time limit of one attempt: SoftTimeoutExceeded is raised in the task "
            "(shorter than timeout).",
        ),
    ],
)

#: Every option a task accepts; anything else given to ``task_config`` is rejected.
TASK_OPTION_NAMES: frozenset[str] = frozenset(TASK_OPTIONS.names)

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def task_env_key(task_id: str) -> str:
    """The environment form of a task id: ``samples.tasks.add`` → ``SAMPLES_TASKS_ADD``.

    Used in ``PYNENC__TASK__<TASK_KEY>__<OPTION>``. Ids that differ only in punctuation share
    a key (``a.b_c`` and ``a_b.c``); that is the price of a name the shell accepts.
    """
    return _NOT_ALNUM.sub("_", task_id).upper()


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """The resolved, immutable options of one task, with the source of each value.

    ``TaskConfig()`` holds the defaults. Use :meth:`pynenc.conf.AppConfig.task_config` to get
    one with every configuration layer applied.
    """

    max_retries: int = TASK_OPTIONS["max_retries"].default
    retry_for: tuple[type[Exception], ...] = TASK_OPTIONS["retry_for"].default
    queue: str = TASK_OPTIONS["queue"].default
    priority: int | None = TASK_OPTIONS["priority"].default
    parallel_batch_size: int = TASK_OPTIONS["parallel_batch_size"].default
    registration_concurrency: ConcurrencyControlType = TASK_OPTIONS[
        "registration_concurrency"
    ].default
    timeout: float | None = TASK_OPTIONS["timeout"].default
    soft_timeout: float | None = TASK_OPTIONS["soft_timeout"].default
    sources: Mapping[str, str] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True
    )

    @classmethod
    def from_resolved(cls, resolved: Mapping[str, tuple[Any, str]]) -> TaskConfig:
        """Build from ``{option: (parsed value, source)}``; missing options take defaults.

        Dotted paths in ``retry_for`` are imported here, when the task is declared, rather than
        when the configuration is read (see :func:`pynenc.conf.option.exception_refs`).
        """
        values = {name: value for name, (value, _) in resolved.items()}
        if "retry_for" in resolved:
            refs, source = resolved["retry_for"]
            try:
                values["retry_for"] = resolve_exception_refs(refs)
            except InvalidValue as exc:
                raise TASK_OPTIONS.invalid("retry_for", refs, source, str(exc)) from None
        sources = {name: source for name, (_, source) in resolved.items()}
        return cls(**values, sources=MappingProxyType(sources))

    def source_of(self, name: str) -> str:
        """Where the value of option ``name`` came from (``"default"`` if no layer set it)."""
        if name not in TASK_OPTIONS:
            raise TASK_OPTIONS.unknown(name, "TaskConfig.source_of")
        return self.sources.get(name, DEFAULT)

    def describe(self) -> list[OptionValue]:
        """Every option with its value and source, in declaration order."""
        return [
            OptionValue(
                f.name,
                getattr(self, f.name),
                self.source_of(f.name),
                TASK_OPTIONS[f.name].description,
                TASK_OPTIONS[f.name].shown(getattr(self, f.name)),
            )
            for f in fields(self)
            if f.name in TASK_OPTIONS
        ]
