"""Configuration sources: the environment, config files and ``pyproject.toml``.

This module knows the shape of each source (how variables are spelled, which file formats
exist, the nesting of sections) but not the options themselves: those arrive as a
:class:`Schema` of option tables. :func:`load_layers` reads every source and parses it into a
:class:`Layer` of ``{option: (value, source label)}``; deciding which layer wins is left to
:mod:`pynenc.conf.app_config`.
"""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynenc.conf.option import OptionTable, Unchecked
from pynenc.exceptions import ConfigError, PynencWarning

ENV_PREFIX = "PYNENC__"
ENV_SEPARATOR = "__"
FILEPATH_VAR = "PYNENC__FILEPATH"
#: Older spellings still honoured, mapped to their canonical variable (which wins if both exist).
LEGACY_ENV_ALIASES = {"PYNENC_DEV_MODE_FORCE_SYNC_TASK": "PYNENC__DEV_MODE_FORCE_SYNC_TASKS"}
CONFIG_VALUES_SOURCE = "config_values"
FILE_SUFFIXES = (".yaml", ".yml", ".toml", ".json")

#: ``{option name: (parsed value, source)}``; app options use qualified names (``runner.threads``).
Resolved = dict[str, tuple[Any, str]]


@dataclass(frozen=True, slots=True)
class Schema:
    """The option tables a source is validated against."""

    app: OptionTable
    sections: Mapping[str, OptionTable]
    task: OptionTable


@dataclass(slots=True)
class Layer:
    """The parsed values of one source.

    ``tasks`` holds per-task entries, keyed by task id in files and by the task key
    (:func:`pynenc.conf.task_config.task_env_key`) in the environment.
    """

    app: Resolved = field(default_factory=dict)
    task: Resolved = field(default_factory=dict)
    tasks: dict[str, Resolved] = field(default_factory=dict)


def load_layers(
    schema: Schema,
    config_values: Mapping[str, Any] | None,
    config_filepath: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> tuple[list[Layer], Layer]:
    """Read and validate every source.

    :returns: the mapping-shaped layers, lowest priority first (pyproject, file,
        config_values), and the environment layer.
    """
    env = read_environ(environ)
    for name, meant in misspelt_variables(schema, environ):
        warnings.warn(
            f"Environment variable {name} is ignored: pynenc reads {ENV_PREFIX}<OPTION> "
            f"(two underscores after PYNENC), here {meant}.",
            PynencWarning,
            stacklevel=4,  # the Pynenc(...) or AppConfig(...) call
        )
    layers: list[Layer] = []
    pyproject = read_pyproject(cwd)
    if pyproject is not None:
        layers.append(parse_mapping(schema, *pyproject))
    # An explicit argument is the more deliberate choice, so it wins over PYNENC__FILEPATH.
    filepath = config_filepath if config_filepath is not None else env.filepath
    if filepath is not None:
        path = (cwd / Path(filepath).expanduser()).resolve()
        layers.append(parse_mapping(schema, read_config_file(path), file_source(path)))
    if config_values is not None:
        layers.append(parse_mapping(schema, config_values, CONFIG_VALUES_SOURCE))
    return layers, parse_environ(schema, env.variables)


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One ``PYNENC__`` variable, split on ``__`` (``parts`` keep the variable's own case)."""

    name: str
    parts: tuple[str, ...]
    value: str

    @property
    def source(self) -> str:
        """The label recorded for values read from this variable."""
        return f"environment variable {self.name}"


@dataclass(frozen=True, slots=True)
class EnvReading:
    """What the environment holds for pynenc: the config file path and every option variable."""

    filepath: str | None
    variables: tuple[EnvVar, ...]


def read_environ(environ: Mapping[str, str]) -> EnvReading:
    """Collect the pynenc variables of ``environ`` (sorted, so errors are deterministic)."""
    variables: list[EnvVar] = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name != FILEPATH_VAR:
            parts = tuple(name[len(ENV_PREFIX) :].split(ENV_SEPARATOR))
            variables.append(EnvVar(name, parts, environ[name]))
    for legacy, canonical in LEGACY_ENV_ALIASES.items():
        if legacy in environ and canonical not in environ:
            parts = tuple(canonical[len(ENV_PREFIX) :].split(ENV_SEPARATOR))
            variables.append(EnvVar(legacy, parts, environ[legacy]))
    return EnvReading(environ.get(FILEPATH_VAR) or None, tuple(variables))


def misspelt_variables(schema: Schema, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``PYNENC_X`` variables (one underscore) that spell an option: each with the variable
    meant. Unrelated ``PYNENC_`` names and the legacy aliases are left alone."""
    found = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) or not name.startswith("PYNENC_"):
            continue
        if name in LEGACY_ENV_ALIASES:
            continue
        meant = _meant(schema, name.removeprefix("PYNENC_").lower())
        if meant is not None:
            found.append((name, meant))
    return found


def _meant(schema: Schema, rest: str) -> str | None:
    """The ``PYNENC__`` variable that ``PYNENC_<rest>`` was probably meant to be."""
    # PYNENC_RUNNER__THREADS: right separators after the section, one underscore too few first
    rest = rest.replace(ENV_SEPARATOR, "_")
    if rest in schema.app or rest == "filepath":
        return ENV_PREFIX + rest.upper()
    for section, table in schema.sections.items():
        option = rest.removeprefix(section + "_")
        if option != rest and option in table:
            return f"{ENV_PREFIX}{section.upper()}{ENV_SEPARATOR}{option.upper()}"
    task = rest.removeprefix("task_")
    if task != rest:
        if task in schema.task:
            return f"{ENV_PREFIX}TASK{ENV_SEPARATOR}{task.upper()}"
        for option in schema.task.names:
            key = task.removesuffix("_" + option)
            if key != task and key:
                return (
                    f"{ENV_PREFIX}TASK{ENV_SEPARATOR}{key.upper()}{ENV_SEPARATOR}{option.upper()}"
                )
    return None


def file_source(path: Path) -> str:
    """The label recorded for values read from config file ``path``."""
    return f"file {path}"


def pyproject_source(path: Path) -> str:
    """The label recorded for values read from ``[tool.pynenc]`` of ``path``."""
    return f"pyproject.toml {path}"


def read_config_file(path: Path) -> dict[str, Any]:
    """Load a YAML, TOML or JSON config file, chosen by suffix; the top level must be a mapping."""
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ConfigError(
            f"Unsupported config file {path}: the name must end in one of "
            f"{', '.join(FILE_SUFFIXES)}"
        )
    if not path.is_file():
        raise ConfigError(
            f"Config file {path} does not exist (check config_filepath or {FILEPATH_VAR})"
        )
    try:
        if suffix == ".toml":
            with path.open("rb") as stream:
                data: Any = tomllib.load(stream)
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            data = _load_yaml(path)
    except (OSError, ValueError) as exc:
        # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors; YAML's are
        # translated in _load_yaml.
        raise ConfigError(f"Cannot read config file {path}: {exc}") from exc
    if data is None:  # an empty YAML document
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {path} must contain a mapping of options at the top level, "
            f"got {type(data).__name__}"
        )
    return data


def _load_yaml(path: Path) -> Any:
    try:
        import yaml  # imported lazily: PyYAML is an optional dependency
    except ImportError:
        raise ConfigError(
            f"Reading the YAML config file {path} needs PyYAML: "
            "pip install 'pynenc[yaml]' (or use a .toml or .json file)"
        ) from None
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.safe_load(stream)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc


def read_pyproject(cwd: Path) -> tuple[dict[str, Any], str] | None:
    """The ``[tool.pynenc]`` table of ``cwd/pyproject.toml`` with its source label, if any."""
    path = cwd / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from exc
    tool = document.get("tool")
    table = tool.get("pynenc") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.pynenc] in {path} must be a table of options")
    return table, pyproject_source(path.resolve())


def parse_mapping(schema: Schema, data: Mapping[str, Any], source: str) -> Layer:
    """Validate and parse one source in the file shape (top-level options and sections)."""
    layer = Layer()
    for key, raw in data.items():
        if key in schema.app:
            layer.app[key] = (schema.app.parse(key, raw, source), source)
        elif key in schema.sections:
            table = schema.sections[key]
            for name, value in _items(raw, key, source):
                layer.app[f"{key}.{name}"] = (table.parse(name, value, source), source)
        elif key == "task":
            for name, value in _items(raw, key, source):
                layer.task[name] = (task_value(schema.task, name, value, source), source)
        elif key == "tasks":
            for task_id, entries in _items(raw, key, source):
                prefix = f"tasks.{task_id}"
                parsed = layer.tasks.setdefault(task_id, {})
                for name, value in _items(entries, prefix, source):
                    parsed[name] = (task_value(schema.task, name, value, source, prefix), source)
        else:
            error = schema.app.unknown(str(key), source, extra=[*schema.sections, "task", "tasks"])
            if isinstance(key, str) and "." in key:
                # One shape only: a flat "runner.threads" key is a mistake, say how to nest it.
                raise ConfigError(
                    f"{error}. Nest options in their section instead: {key.split('.')[0]}: {{...}}"
                )
            raise error
    return layer


def task_value(
    table: OptionTable, name: str, raw: Any, source: str, prefix: str | None = None
) -> Any:
    """A task option's value: parsed when ``table`` (pynenc's task options) declares it,
    otherwise kept :class:`Unchecked` — it may be an option that a task's class declares
    (``Task.extra_options``), checked when such a task is declared."""
    if name in table:
        return table.parse(name, raw, source, prefix=prefix)
    return Unchecked(raw)


def _items(raw: Any, where: str, source: str) -> list[tuple[str, Any]]:
    if not isinstance(raw, Mapping) or not all(isinstance(key, str) for key in raw):
        raise ConfigError(
            f"{where} must be a mapping with string keys (from {source}), got {raw!r}"
        )
    return list(raw.items())


def parse_environ(schema: Schema, variables: tuple[EnvVar, ...]) -> Layer:
    """Validate and parse ``PYNENC__`` variables (``tasks`` is keyed by task key)."""
    layer = Layer()
    for var in variables:
        head, rest = var.parts[0].lower(), var.parts[1:]
        if head in schema.app and not rest:
            layer.app[head] = (schema.app.parse(head, var.value, var.source), var.source)
        elif head in schema.sections and len(rest) == 1:
            name = rest[0].lower()
            value = schema.sections[head].parse(name, var.value, var.source)
            layer.app[f"{head}.{name}"] = (value, var.source)
        elif head in schema.sections and rest:
            raise schema.sections[head].unknown("__".join(rest).lower(), var.source)
        elif head == "task" and rest:
            name = rest[-1].lower()
            value = task_value(schema.task, name, var.value, var.source)
            # The task key may itself contain "__" (a task id like ``pkg._private.fn``).
            key = "__".join(rest[:-1]).upper()
            target = layer.tasks.setdefault(key, {}) if key else layer.task
            target[name] = (value, var.source)
        elif head in schema.sections or head == "task":
            raise ConfigError(
                f"{var.name} names the section {head!r}, not an option; set "
                f"PYNENC__{head.upper()}__<OPTION> instead"
            )
        else:
            # An unknown first segment is the typo to report; a known option with more
            # segments after it is reported whole.
            name = "__".join(var.parts).lower() if head in schema.app else head
            raise schema.app.unknown(
                name,
                var.source,
                extra=[*schema.sections, "task", "filepath"],
            )
    return layer
