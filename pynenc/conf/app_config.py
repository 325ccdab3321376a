"""The application configuration: option tables, layering of sources, and ``AppConfig``.

Every value is resolved once, at construction, from the highest layer that sets it::

    assignment > environment > config_values > config file > pyproject.toml > default

and stored as a plain instance attribute, so reading ``conf.dev_mode_force_sync_tasks`` on the
call path costs an attribute lookup. ``__setattr__`` exists only to validate writes. Task
options are layered per task by :meth:`AppConfig.task_config`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pynenc.conf.liveness import MIN_DEAD_AFTER_RATIO, check_liveness
from pynenc.conf.masking import hidden, masked_urls
from pynenc.conf.option import (
    ASSIGNMENT,
    DEFAULT,
    InvalidValue,
    Option,
    OptionTable,
    OptionValue,
    boolean,
    choice,
    choices_text,
    class_path,
    class_ref,
    integer,
    json_object,
    number,
    string_tuple,
    text,
)
from pynenc.conf.serializers import serializer_name, serializer_names
from pynenc.conf.sources import Resolved, Schema, load_layers
from pynenc.conf.task_config import (
    TASK_OPTIONS,
    TaskConfig,
    checked_task_layer,
    task_env_key,
    task_option_table,
)
from pynenc.conf.trigger_options import TIMEZONE, TRIGGER_OPTIONS
from pynenc.exceptions import ConfigError, InvalidTaskOptionsError

LOGGING_LEVELS = ("debug", "info", "warning", "error", "critical")
MIN_SIGNING_KEY_LENGTH = 16


def signing_keys(raw: Any) -> tuple[str, ...]:
    """``broker.signing_keys``: a list of long enough keys (guessable keys sign nothing)."""
    keys = string_tuple(raw)
    if any(len(key) < MIN_SIGNING_KEY_LENGTH for key in keys):
        raise InvalidValue(
            f"a key is shorter than {MIN_SIGNING_KEY_LENGTH} characters; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return keys


APP_OPTIONS = OptionTable(
    "",
    [
        Option(
            "app_id",
            "pynenc",
            text,
            "a non-empty string",
            "Namespace for queues and stored state; apps with different ids never share work.",
        ),
        Option(
            "broker_url",
            "memory://",
            text,
            "a kombu URL",
            "Broker URL (any kombu URL).",
            mask=masked_urls,
        ),
        Option(
            "state_backend_url",
            "memory://",
            text,
            "a state backend URL",
            "State backend URL: memory://, sqlite:////absolute/path.db (sqlite:///relative.db) "
            "or redis://...",
            mask=masked_urls,
        ),
        Option("runner_cls", "ThreadRunner", text, "a runner class name", "Runner class name."),
        Option(
            "dev_mode_force_sync_tasks",
            False,
            boolean,
            "a boolean (true/false, 1/0, yes/no, on/off)",
            "Run tasks inline in the caller (development and tests).",
        ),
        Option(
            "serializer",
            "json",
            serializer_name,
            "the name of a serializer: json, pickle, cloudpickle or one registered with "
            "pynenc.serializer.register_serializer (checked when first used)",
            "Serializer of arguments and results.",
        ),
        Option(
            "logging_level",
            "warning",
            choice(*LOGGING_LEVELS),
            choices_text(LOGGING_LEVELS),
            "Level of pynenc's loggers, applied when set (unset: the process's logging decides).",
        ),
        Option(
            "task_modules",
            (),
            string_tuple,
            "a list of module names (comma-separated in text)",
            "Modules a runner imports at start to find tasks, besides the app's module and "
            "its registered tasks' modules (the Celery layer's include feeds it).",
        ),
        Option(
            "state_backend_connect_timeout",
            5.0,
            number(0.1),
            "a number of seconds >= 0.1",
            "How long a caller or a starting runner waits for a state backend it has not "
            "reached yet (refused or silent) before StateBackendError.",
        ),
        Option(
            "task_cls",
            "pynenc.task.Task",
            class_ref,
            "a Task subclass, or its import path ('module:Class' or 'module.Class')",
            "Class of the app's tasks (a layer's Task subclass); the decorator's task_cls "
            "wins. Imported when the first task is declared.",
            mask=class_path,
        ),
        Option(
            "accept_serializers",
            (),
            serializer_names,
            "a list of serializer names (comma-separated in text)",
            "Serializers besides serializer (always accepted) that a task may use (task "
            "option serializer) and that runners and waiters decode; list pickle or "
            "cloudpickle only when every producer is trusted.",
        ),
        TIMEZONE,
    ],
)
RUNNER_OPTIONS = OptionTable(
    "runner",
    [
        Option("threads", 8, integer(1), "an integer >= 1", "Task slots of a thread runner."),
        Option(
            "queues",
            (),
            string_tuple,
            "a list of queue names (comma-separated in text)",
            "Queues this runner consumes; empty means every queue of the app's tasks.",
        ),
        Option(
            "processes",
            0,
            integer(0),
            "an integer >= 0",
            "Worker processes of multi-process runners; 0 means one per CPU.",
        ),
        Option(
            "heartbeat_interval",
            1.0,
            number(0.05),
            "a number of seconds >= 0.05",
            "How often a runner records that it is alive.",
        ),
        Option(
            "dead_after",
            10.0,
            number(0.1),
            "a number of seconds >= 0.1",
            "A runner silent this long is dead: its running invocations are rerouted "
            f"(at least {MIN_DEAD_AFTER_RATIO} x heartbeat_interval).",
        ),
        Option(
            "max_reroutes",
            3,
            integer(0),
            "an integer >= 0",
            "Times one invocation may be rerouted after runner deaths before it FAILS.",
        ),
        Option(
            "redeliver_after",
            300.0,
            number(1),
            "a number of seconds >= 1",
            "Invocations unclaimed this long are published again (a broker may lose one).",
        ),
        Option(
            "stop_grace",
            30.0,
            number(0),
            "a number of seconds >= 0",
            "On a graceful stop, how long running invocations may take to finish.",
        ),
        Option(
            "scheduler_poll",
            0.2,
            number(0.01),
            "a number of seconds >= 0.01",
            "Longest the scheduler (in the services lease holder) sleeps before it looks for "
            "newly scheduled work; due times it has seen are met without waiting for it.",
        ),
        Option(
            "cancel_check_interval",
            0.25,
            number(0.01),
            "a number of seconds >= 0.01",
            "While a runner that can stop running work (process runners, pool workers) runs "
            "something, how often it reads whether any of it was cancelled (one batched read).",
        ),
        Option(
            "concurrency_recheck",
            10.0,
            number(0.1),
            "a number of seconds >= 0.1",
            "An invocation waiting for a running slot (running_concurrency) is tried again "
            "after this long even if no release woke it (a lost wake-up).",
        ),
    ],
)
BROKER_OPTIONS = OptionTable(
    "broker",
    [
        Option(
            "transport_options",
            {},
            json_object,
            "a mapping (a JSON object in text)",
            "Transport options passed to kombu.",
        ),
        Option(
            "publish_retries",
            3,
            integer(0),
            "an integer >= 0",
            "Retries of a publish on connection errors.",
        ),
        Option(
            "max_message_bytes",
            256 * 1024 * 1024,
            integer(1024),
            "an integer number of bytes >= 1024",
            "Longest message body a runner decodes; longer ones are dead-lettered.",
        ),
        Option(
            "signing_keys",
            (),
            signing_keys,
            f"a list of keys of at least {MIN_SIGNING_KEY_LENGTH} characters "
            "(comma-separated in text), newest first",
            "Keys signing messages (HMAC-SHA256): the first signs, all verify; empty: off.",
            mask=hidden,
        ),
    ],
)

CLIENT_DATA_STORE_OPTIONS = OptionTable(
    "client_data_store",
    [
        Option(
            "enabled",
            True,
            boolean,
            "a boolean (true/false, 1/0, yes/no, on/off)",
            "Store serialized arguments and results of min_size or more once, by content "
            "hash, in the state backend; messages and records carry a reference.",
        ),
        Option(
            "min_size",
            1024 * 1024,
            integer(128),
            "an integer number of characters >= 128",
            "Serialized size (characters; bytes for ASCII text) from which a value is stored "
            "in the client data store instead of travelling in messages and records.",
        ),
        Option(
            "cache_size",
            128 * 1024 * 1024,
            integer(0),
            "an integer number of characters >= 0",
            "Per process, how much of the stored values a runner keeps in memory (least "
            "recently used out first), so a fan-out reads a value once; 0: no cache.",
        ),
    ],
)


class _Section:
    """Values of one option table as instance attributes; writes are parsed and recorded."""

    _options: ClassVar[OptionTable]
    _sources: dict[str, str]

    def __init__(self, resolved: Mapping[str, tuple[Any, str]]) -> None:
        object.__setattr__(self, "_sources", {})
        for name in self._options.names:
            value, source = resolved.get(name) or (self._options.default(name), DEFAULT)
            object.__setattr__(self, name, value)
            self._sources[name] = source
        self._check(self._values(), frozenset())

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._options:
            raise self._options.unknown(name, "attribute assignment")
        self._assign({name: self._options.parse(name, value, ASSIGNMENT)})

    def update(self, **values: Any) -> None:
        """Assign several options at once: rules between options are checked on the values
        as they will be, so related options can change together; if one value is refused,
        none is assigned."""
        for name in values:
            if name not in self._options:
                raise self._options.unknown(name, "update()")
        self._assign(
            {name: self._options.parse(name, raw, ASSIGNMENT) for name, raw in values.items()}
        )

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._options.names}

    def _assign(self, parsed: Mapping[str, Any]) -> None:
        self._check({**self._values(), **parsed}, frozenset(parsed))
        for name, value in parsed.items():
            object.__setattr__(self, name, value)
            self._sources[name] = ASSIGNMENT

    def _check(self, values: Mapping[str, Any], assigned: frozenset[str]) -> None:
        """Rules between options of this section, on ``values`` (``assigned``: the names
        being assigned now); none by default."""

    def __delattr__(self, name: str) -> None:
        raise ConfigError(f"Configuration options cannot be deleted ({name!r}); assign a value")

    def source_of(self, name: str) -> str:
        """Where the current value of option ``name`` came from."""
        if name not in self._options:
            raise self._options.unknown(name, "source_of")
        return self._sources[name]

    def describe(self) -> list[OptionValue]:
        """Every option of this section with its value and source."""
        table = self._options
        return [
            OptionValue(
                table.qualname(name),
                getattr(self, name),
                self._sources[name],
                table[name].description,
                table[name].shown(getattr(self, name)),
            )
            for name in table.names
        ]

    def __repr__(self) -> str:
        # shown values: a repr in a log must not carry passwords or signing keys
        table = self._options
        values = ", ".join(
            f"{name}={table[name].shown(getattr(self, name))!r}" for name in table.names
        )
        return f"{type(self).__name__}({values})"


class RunnerConfig(_Section):
    """Options of the runner (``runner`` section, ``PYNENC__RUNNER__<OPTION>``)."""

    _options = RUNNER_OPTIONS
    threads: int
    queues: tuple[str, ...]
    processes: int
    heartbeat_interval: float
    dead_after: float
    max_reroutes: int
    redeliver_after: float
    stop_grace: float
    scheduler_poll: float
    cancel_check_interval: float
    concurrency_recheck: float

    def _check(self, values: Mapping[str, Any], assigned: frozenset[str]) -> None:
        check_liveness(self, values["heartbeat_interval"], values["dead_after"], assigned)


class BrokerConfig(_Section):
    """Options of the broker (``broker`` section, ``PYNENC__BROKER__<OPTION>``)."""

    _options = BROKER_OPTIONS
    transport_options: dict[str, Any]
    publish_retries: int
    max_message_bytes: int
    signing_keys: tuple[str, ...]


class ClientDataStoreConfig(_Section):
    """Options of the client data store (``client_data_store`` section,
    ``PYNENC__CLIENT_DATA_STORE__<OPTION>``); see ``docs/progress-cache-data.md``."""

    _options = CLIENT_DATA_STORE_OPTIONS
    enabled: bool
    min_size: int
    cache_size: int


class TriggerConfig(_Section):
    """Options of triggers (``trigger`` section, ``PYNENC__TRIGGER__<OPTION>``)."""

    _options = TRIGGER_OPTIONS
    missed: str
    missed_after: float
    event_retention: int


_SECTION_CLASSES: dict[str, type[_Section]] = {
    "runner": RunnerConfig,
    "trigger": TriggerConfig,
    "broker": BrokerConfig,
    "client_data_store": ClientDataStoreConfig,
}
SECTIONS: dict[str, OptionTable] = {name: cls._options for name, cls in _SECTION_CLASSES.items()}
_SCHEMA = Schema(APP_OPTIONS, SECTIONS, TASK_OPTIONS)


class AppConfig(_Section):
    """The configuration of a pynenc app, resolved from every source at construction.

    :param config_values: options in the file shape (top-level keys; ``runner``, ``broker``,
        ``task`` and ``tasks`` mappings).
    :param config_filepath: a ``.yaml``/``.yml``/``.toml``/``.json`` file in that shape;
        without it, ``PYNENC__FILEPATH`` is used if set.
    :param environ: the environment to read (``os.environ`` if omitted), read once, here.
    :param cwd: the directory holding ``pyproject.toml`` (the working directory if omitted);
        relative file paths are resolved against it too.
    :raises ConfigError: an unknown option or a bad value in any source.
    """

    _options = APP_OPTIONS
    app_id: str
    broker_url: str
    state_backend_url: str
    state_backend_connect_timeout: float
    runner_cls: str
    dev_mode_force_sync_tasks: bool
    serializer: str
    logging_level: str
    task_modules: tuple[str, ...]
    task_cls: type | str
    accept_serializers: tuple[str, ...]
    timezone: str
    runner: RunnerConfig
    trigger: TriggerConfig
    broker: BrokerConfig
    client_data_store: ClientDataStoreConfig
    _task_defaults: Resolved
    _task_entries: dict[str, Resolved]
    _task_env: Resolved
    _task_env_per_key: dict[str, Resolved]

    def __init__(
        self,
        config_values: Mapping[str, Any] | None = None,
        config_filepath: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        base = Path(cwd) if cwd is not None else Path.cwd()
        layers, env_layer = load_layers(
            _SCHEMA,
            config_values,
            config_filepath,
            os.environ if environ is None else environ,
            base,
        )
        app: Resolved = {}
        for layer in [*layers, env_layer]:
            app.update(layer.app)
        super().__init__(app)
        for section, section_cls in _SECTION_CLASSES.items():
            prefix = f"{section}."
            values = {
                name.removeprefix(prefix): v for name, v in app.items() if name.startswith(prefix)
            }
            object.__setattr__(self, section, section_cls(values))

        # Task layers, lowest first: per-task source entries beat every source's task section,
        # and the environment beats both (see task_config).
        task_defaults: Resolved = {}
        tasks: dict[str, Resolved] = {}
        for layer in layers:
            task_defaults.update(layer.task)
            for task_id, entries in layer.tasks.items():
                tasks.setdefault(task_id, {}).update(entries)
        object.__setattr__(self, "_task_defaults", task_defaults)
        object.__setattr__(self, "_task_entries", tasks)
        object.__setattr__(self, "_task_env", env_layer.task)
        object.__setattr__(self, "_task_env_per_key", env_layer.tasks)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SECTIONS:
            raise ConfigError(
                f"{name!r} is a section and cannot be replaced; assign its options instead, "
                f"e.g. conf.{name}.{SECTIONS[name].names[0]} = ..."
            )
        super().__setattr__(name, value)

    def task_config(
        self,
        task_id: str,
        options: Mapping[str, Any],
        extra_options: OptionTable | None = None,
        app_extra_options: Callable[[], OptionTable | None] | None = None,
    ) -> TaskConfig:
        """Resolve the options of task ``task_id`` (its key: ``module.func`` or its name).

        Layers, highest first: ``options`` (the decorator's), ``PYNENC__TASK__<TASK_KEY>__<OPT>``,
        ``PYNENC__TASK__<OPT>``, ``tasks.<task_id>`` entries of the sources, their ``task``
        sections, defaults.

        :param extra_options: the options the task's class declares (``Task.extra_options``),
            resolved with pynenc's and read with ``TaskConfig.get``.
        :param app_extra_options: returns those of the app's ``task_cls``: an option of theirs
            in the ``task`` section (for every task) is left out for a task whose class lacks
            it, rather than refused. Called only when such a name turns up.
        :raises InvalidTaskOptionsError: ``options`` holds names that are not task options.
        :raises ConfigError: a value is invalid, an option is unknown to the task (all valid
            ones are listed), or a ``retry_for`` path cannot be imported.
        """
        table = task_option_table(extra_options)
        invalid = [name for name in options if name not in table]
        if invalid:
            raise InvalidTaskOptionsError(task_id, invalid, sorted(table.names))
        per_task = f"tasks.{task_id}"
        env_key = task_env_key(task_id)
        resolved: Resolved = {}
        for layer, prefix in (
            (self._task_defaults, "task"),
            (self._task_entries.get(task_id, {}), per_task),
            (self._task_env, "task"),
            (self._task_env_per_key.get(env_key, {}), per_task),
        ):
            resolved.update(checked_task_layer(layer, table, prefix, task_id, app_extra_options))
        source = f"options of task {task_id}"
        for name, raw in options.items():
            resolved[name] = (table.parse(name, raw, source), source)
        return TaskConfig.from_resolved(resolved, table)

    def unknown_task_entries(self, task_ids: Iterable[str]) -> list[tuple[str, str]]:
        """Per-task settings that name none of ``task_ids``: ``(task id or env key, sources)``
        for each (``tasks.<id>`` entries of the sources, ``PYNENC__TASK__<KEY>__<OPT>``)."""
        ids = set(task_ids)
        env_keys = {task_env_key(task_id) for task_id in ids}
        unknown = [
            (task_id, _sources(entries))
            for task_id, entries in self._task_entries.items()
            if task_id not in ids
        ]
        unknown.extend(
            (key, _sources(entries))
            for key, entries in self._task_env_per_key.items()
            if key not in env_keys
        )
        return unknown

    def describe(self, task_options: OptionTable | None = None) -> list[OptionValue]:
        """Every option, sections included (``runner.threads``; ``task.*`` are task defaults,
        with the ``task_options`` that the app's ``task_cls`` declares)."""
        described = super().describe()
        for section in SECTIONS:
            described.extend(getattr(self, section).describe())
        table = task_option_table(task_options)
        task_layers: Resolved = {}
        for layer in (self._task_defaults, self._task_env):
            task_layers.update(checked_task_layer(layer, table, "task", None, None))
        defaults = TaskConfig.from_resolved(task_layers, table)
        described.extend(
            OptionValue(f"task.{item.name}", item.value, item.source, item.description, item.shown)
            for item in defaults.describe()
        )
        return described


def _sources(entries: Resolved) -> str:
    """The distinct sources of some resolved values, for messages."""
    return ", ".join(sorted({source for _, source in entries.values()}))
