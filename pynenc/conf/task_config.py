"""Per-task options: their table, and :class:`TaskConfig`, the resolved options of one task.

The layering that produces a ``TaskConfig`` (decorator options over the environment over
config sources) lives in :meth:`pynenc.conf.AppConfig.task_config`; this module declares the
options and holds the result.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, TypeVar

from pynenc.conf.limits import SECONDS_OR_NONE, seconds_or_none
from pynenc.conf.option import (
    DEFAULT,
    InvalidValue,
    Option,
    OptionTable,
    OptionValue,
    Unchecked,
    boolean,
    choices_text,
    enum_member,
    exception_refs,
    integer,
    number,
    resolve_exception_refs,
    string_tuple,
    text,
)
from pynenc.conf.rate import RateLimit, rate_limit
from pynenc.conf.serializers import optional_serializer_name
from pynenc.exceptions import ConfigError


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


T = TypeVar("T")

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


def optional_seconds(raw: Any) -> float | None:
    """``None`` (no limit), or a number of seconds > 0 (or its text; ``none``/``null``)."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "null")):
        return None
    value = number(0)(raw)
    if value <= 0:
        raise InvalidValue()
    return value


def seconds(raw: Any) -> float:
    """A finite number of seconds >= 0 (or its text)."""
    value = number(0)(raw)
    if value == float("inf"):
        raise InvalidValue()
    return value


def optional(parse: Callable[[Any], T]) -> Callable[[Any], T | None]:
    """``None`` (``none``/``null`` in text), or what ``parse`` accepts."""

    def parse_optional(raw: Any) -> T | None:
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "null")):
            return None
        return parse(raw)

    return parse_optional


def backoff_factor(raw: Any) -> float:
    """A finite factor >= 1."""
    if isinstance(raw, bool):
        raise InvalidValue(
            "a backoff is the factor between two waits, not a switch (Celery's "
            "retry_backoff=True is retry_delay=1, retry_backoff=2: 1, 2, 4 s…)"
        )
    value = number(1)(raw)
    if value == float("inf"):
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
            "running_concurrency",
            ConcurrencyControlType.DISABLED,
            enum_member(ConcurrencyControlType),
            choices_text(member.value for member in ConcurrencyControlType),
            "Limit on concurrently running invocations of the task (per its scope).",
        ),
        Option(
            "key_arguments",
            (),
            string_tuple,
            "a list of argument names (comma-separated in text)",
            "Arguments whose values make the key of the KEYS concurrency scope.",
        ),
        Option(
            "on_diff_non_key_args_raise",
            False,
            boolean,
            "a boolean",
            "KEYS registration: a duplicate key with other non-key arguments raises.",
        ),
        Option(
            "reroute_on_concurrency_control",
            True,
            boolean,
            "a boolean",
            "Running control: a held-back invocation waits (True) or fails (False).",
        ),
        Option(
            "max_running_per_key",
            1,
            integer(1),
            "an integer >= 1",
            "Running control: invocations running at once per key.",
        ),
        Option(
            "rate_limit",
            None,
            rate_limit,
            "a rate such as '10/s', '100/m', '5/h', a number (per second) or None",
            "Starts of the task allowed per period, across every runner together.",
            mask=lambda value: value if value is None else str(value),
        ),
        Option(
            "force_new_workflow",
            False,
            boolean,
            "a boolean (true/false, 1/0, yes/no, on/off)",
            "Called from inside another task, start a sub-workflow of the caller's "
            "workflow instead of joining it (a top-level call always starts one).",
        ),
        Option(
            "call_result_cache",
            False,
            boolean,
            "a boolean (true/false, 1/0, yes/no, on/off)",
            "A call with the arguments of an earlier successful invocation returns that "
            "invocation instead of running the task again.",
        ),
        Option(
            "disable_cache_args",
            (),
            string_tuple,
            "a list of argument names (comma-separated in text)",
            "Arguments left out of the result cache key (e.g. verbose).",
        ),
        Option(
            "call_result_cache_ttl",
            None,
            optional_seconds,
            "a number of seconds > 0, or None",
            "How long a cached result is reused after it was recorded; None: until purged.",
        ),
        Option(
            "retry_delay",
            0.0,
            seconds,
            "a finite number of seconds >= 0",
            "Seconds before a retry (the first one, with retry_backoff); 0 retries at once.",
        ),
        Option(
            "retry_backoff",
            None,
            optional(backoff_factor),
            "a number >= 1, or None (no backoff)",
            "Each retry waits this many times longer than the previous one.",
        ),
        Option(
            "retry_backoff_max",
            None,
            optional(seconds),
            "a finite number of seconds >= 0, or None (no cap)",
            "Longest wait before a retry, backoff included.",
        ),
        Option(
            "retry_jitter",
            False,
            boolean,
            "a boolean",
            "Wait a random time between 0 and the computed delay (spreads retries out).",
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
        Option(
            "serializer",
            None,
            optional_serializer_name,
            "the name of a serializer listed in the app's accept_serializers, or None",
            "Serializer of this task's arguments and results instead of the app's (None); "
            "the app must accept it (accept_serializers).",
        ),
    ],
)

#: Every option of pynenc's own; a ``Task`` subclass may declare more (``extra_options``).
TASK_OPTION_NAMES: frozenset[str] = frozenset(TASK_OPTIONS.names)

#: What an extra option may be called: it is also spelled in environment variables.
_OPTION_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def task_option_table(extra_options: OptionTable | None = None) -> OptionTable:
    """Every option of a task whose class declares ``extra_options``: pynenc's, then those.

    :raises ConfigError: an extra option has the name of one of pynenc's (a layer cannot
        redefine ``queue`` or ``max_retries``: two meanings for one name), or a name that
        cannot be spelled in an environment variable.
    """
    if extra_options is None or not extra_options.names:
        return TASK_OPTIONS
    return _with_extra_options(extra_options)


@functools.cache
def _with_extra_options(extra_options: OptionTable) -> OptionTable:
    clashes = [name for name in extra_options.names if name in TASK_OPTIONS]
    if clashes:
        raise ConfigError(
            f"Extra task options {', '.join(map(repr, clashes))} clash with pynenc's own task "
            "options of the same name; give them other names or use pynenc's. pynenc's task "
            f"options: {', '.join(sorted(TASK_OPTIONS.names))}"
        )
    bad = [name for name in extra_options.names if not _OPTION_NAME.fullmatch(name)]
    if bad:
        raise ConfigError(
            f"Invalid extra task option names {', '.join(map(repr, bad))}: use lower-case "
            "letters, digits and single underscores (e.g. 'acks_late'), so that "
            "PYNENC__TASK__<OPTION> can spell them"
        )
    return OptionTable("task", [*TASK_OPTIONS.options.values(), *extra_options.options.values()])


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
    running_concurrency: ConcurrencyControlType = TASK_OPTIONS["running_concurrency"].default
    key_arguments: tuple[str, ...] = TASK_OPTIONS["key_arguments"].default
    on_diff_non_key_args_raise: bool = TASK_OPTIONS["on_diff_non_key_args_raise"].default
    reroute_on_concurrency_control: bool = TASK_OPTIONS["reroute_on_concurrency_control"].default
    max_running_per_key: int = TASK_OPTIONS["max_running_per_key"].default
    rate_limit: RateLimit | None = TASK_OPTIONS["rate_limit"].default
    force_new_workflow: bool = TASK_OPTIONS["force_new_workflow"].default
    call_result_cache: bool = TASK_OPTIONS["call_result_cache"].default
    disable_cache_args: tuple[str, ...] = TASK_OPTIONS["disable_cache_args"].default
    call_result_cache_ttl: float | None = TASK_OPTIONS["call_result_cache_ttl"].default
    retry_delay: float = TASK_OPTIONS["retry_delay"].default
    retry_backoff: float | None = TASK_OPTIONS["retry_backoff"].default
    retry_backoff_max: float | None = TASK_OPTIONS["retry_backoff_max"].default
    retry_jitter: bool = TASK_OPTIONS["retry_jitter"].default
    timeout: float | None = TASK_OPTIONS["timeout"].default
    soft_timeout: float | None = TASK_OPTIONS["soft_timeout"].default
    serializer: str | None = TASK_OPTIONS["serializer"].default
    sources: Mapping[str, str] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True
    )
    #: values of the options the task's class declares (``Task.extra_options``): ``get()``
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), kw_only=True)
    #: every option of the task (:func:`task_option_table`): pynenc's and its class's
    table: OptionTable = field(default=TASK_OPTIONS, compare=False, repr=False, kw_only=True)

    @classmethod
    def from_resolved(
        cls, resolved: Mapping[str, tuple[Any, str]], table: OptionTable = TASK_OPTIONS
    ) -> TaskConfig:
        """Build from ``{option: (parsed value, source)}``; missing options take defaults.

        ``table`` is the task's :func:`task_option_table` when its class declares extra
        options. Dotted paths in ``retry_for`` are imported here, when the task is declared,
        rather than when the configuration is read (see
        :func:`pynenc.conf.option.exception_refs`).
        """
        values = {name: value for name, (value, _) in resolved.items() if name in TASK_OPTIONS}
        extra = {
            name: resolved[name][0] if name in resolved else table.default(name)
            for name in table.names
            if name not in TASK_OPTIONS
        }
        if "retry_for" in resolved:
            refs, source = resolved["retry_for"]
            try:
                values["retry_for"] = resolve_exception_refs(refs)
            except InvalidValue as exc:
                raise TASK_OPTIONS.invalid("retry_for", refs, source, str(exc)) from None
        sources = {name: source for name, (_, source) in resolved.items()}
        if values.get("retry_backoff") is not None and not values.get("retry_delay"):
            backoff, source = resolved["retry_backoff"]
            raise TASK_OPTIONS.invalid(
                "retry_backoff",
                backoff,
                source,
                "a backoff multiplies retry_delay, which is 0: set retry_delay to the first "
                "retry's delay in seconds (e.g. retry_delay=1, retry_backoff=2: 1, 2, 4 s…)",
            )
        return cls(
            **values,
            sources=MappingProxyType(sources),
            extra=MappingProxyType(extra),
            table=table,
        )

    def get(self, name: str) -> Any:
        """The value of option ``name``: one of pynenc's (also plain attributes, the fast
        way to read them) or one the task's class declares.

        :raises ConfigError: ``name`` is no option of this task (every valid one is listed).
        """
        if name in self.extra:
            return self.extra[name]
        if name in TASK_OPTIONS:
            return getattr(self, name)
        raise self.table.unknown(name, "TaskConfig.get")

    def source_of(self, name: str) -> str:
        """Where the value of option ``name`` came from (``"default"`` if no layer set it)."""
        if name not in self.table:
            raise self.table.unknown(name, "TaskConfig.source_of")
        return self.sources.get(name, DEFAULT)

    def describe(self) -> list[OptionValue]:
        """Every option with its value and source: pynenc's in declaration order, then
        those the task's class declares."""
        names = [f.name for f in fields(self) if f.name in TASK_OPTIONS]
        names.extend(name for name in self.table.names if name not in TASK_OPTIONS)
        return [
            OptionValue(
                name,
                self.get(name),
                self.source_of(name),
                self.table[name].description,
                self.table[name].shown(self.get(name)),
            )
            for name in names
        ]


def checked_task_layer(
    layer: Mapping[str, tuple[Any, str]],
    table: OptionTable,
    prefix: str,
    task_id: str | None,
    app_extra_options: Callable[[], OptionTable | None] | None,
) -> Mapping[str, tuple[Any, str]]:
    """``layer`` with its :class:`Unchecked` values parsed against ``table`` (a task's
    options); in the ``task`` section, an option of the app's ``task_cls`` that ``table``
    lacks is left out. Any other unknown name is refused, with every valid one."""
    if not any(isinstance(value, Unchecked) for value, _ in layer.values()):
        return layer
    checked: dict[str, tuple[Any, str]] = {}
    for name, (value, source) in layer.items():
        if not isinstance(value, Unchecked):
            checked[name] = (value, source)
        elif name in table:
            checked[name] = (table.parse(name, value.raw, source, prefix=prefix), source)
        elif (
            prefix == "task"
            and app_extra_options is not None
            and name in _names(app_extra_options())
        ):
            continue  # an option of the app's task class, not of this task's class
        else:
            error = table.unknown(name, source, prefix=prefix)
            where = f"Task {task_id}: " if task_id is not None else ""
            hint = (
                " An option that a Task subclass declares (extra_options) may be set in the "
                "task section only when the app's task_cls declares it; otherwise set it for "
                "its tasks (tasks.<task>, PYNENC__TASK__<TASK_KEY>__<OPTION>)."
                if prefix == "task"
                else ""
            )
            raise ConfigError(f"{where}{error}.{hint}")
    return checked


def _names(table: OptionTable | None) -> tuple[str, ...]:
    return () if table is None else table.names
