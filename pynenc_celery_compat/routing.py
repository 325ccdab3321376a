"""Switching tasks back to Celery by configuration: which calls take Celery's own path.

A migration is rolled back without a code change: name tasks or modules in the Celery
setting ``pynenc_celery_tasks`` (Django: ``CELERY_PYNENC_CELERY_TASKS``), or in the
environment variable ``PYNENC_CELERY_TASKS`` (it replaces the setting, so operations can
flip it at deploy time), and their ``delay``/``apply_async``/``AsyncResult``/``retry`` take
Celery's own code: a real Celery message on the Celery app's broker, for a Celery worker.

The value: ``True`` (every task), or patterns (a list, or one comma-separated string), each
matched (``fnmatch``, case-sensitive) against a task's name and its module::

    pynenc_celery_tasks = ["billing.tasks", "reports.tasks.monthly_*", "!billing.tasks.ping"]

``billing.tasks`` names a module (all its tasks), ``reports.tasks.monthly_*`` task names,
``*`` everything; a pattern starting with ``!`` keeps matching tasks on pynenc.

The check sits on every call, so it is cached: the setting is read with a direct lookup
(no exception-driven misses: about half a microsecond), the environment once per process
(:func:`reload` reads it again), and the decision per task name until the value changes.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from celery.utils.collections import ConfigurationView

from pynenc.exceptions import ConfigError
from pynenc_celery_compat import registry
from pynenc_celery_compat.conf_reads import lookup as _lookup
from pynenc_celery_compat.conf_reads import spellings as _keys

#: the Celery setting (Django with ``namespace="CELERY"``: ``CELERY_PYNENC_CELERY_TASKS``)
SETTING = "pynenc_celery_tasks"
#: the environment variable; when set and not blank it replaces the setting
ENV_VAR = "PYNENC_CELERY_TASKS"

_ATTRIBUTE = "_pynenc_compat_routing"
_UNREAD: Any = object()
_env: Any = _UNREAD


@dataclass(frozen=True, slots=True)
class Switch:
    """A parsed value: the patterns that send tasks to Celery, and those that keep them."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def matches(self, name: str, module: str) -> bool:
        """Whether the task ``name`` (defined in ``module``) goes to Celery."""

        def hit(patterns: tuple[str, ...]) -> bool:
            return any(
                fnmatch.fnmatchcase(name, p) or (module and fnmatch.fnmatchcase(module, p))
                for p in patterns
            )

        return hit(self.include) and not hit(self.exclude)


def parse(value: Any, source: str = SETTING) -> Switch | None:
    """The :class:`Switch` for a setting or environment value; ``None``: nothing switched.

    :raises ConfigError: the value is not ``True``/``False``, a string or strings.
    """
    if value is None or value is False:
        return None
    if value is True:
        return Switch(("*",))
    if isinstance(value, str):
        entries: Iterable[Any] = value.split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        entries = value
    else:
        raise ConfigError(
            f"{source} = {value!r} ({type(value).__name__}): give True (every task), or task "
            "name / module patterns as a list or one comma-separated string, e.g. "
            "['billing.tasks', 'reports.tasks.monthly_*']"
        )
    include: list[str] = []
    exclude: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ConfigError(
                f"{source} entry {entry!r} ({type(entry).__name__}) is not a string: each "
                "entry is a task name or module pattern, e.g. 'billing.tasks.*'"
            )
        pattern = entry.strip()
        if pattern.startswith("!"):
            if pattern[1:].strip():
                exclude.append(pattern[1:].strip())
        elif pattern:
            include.append(pattern)
    if not include:
        return None
    return Switch(tuple(include), tuple(exclude))


def env_value() -> str | None:
    """``PYNENC_CELERY_TASKS`` as read once per process (blank counts as unset)."""
    global _env
    if _env is _UNREAD:
        raw = os.environ.get(ENV_VAR, "").strip()
        _env = raw or None
    return _env  # type: ignore[no-any-return]


def reload() -> None:
    """Read ``PYNENC_CELERY_TASKS`` again on the next call (tests; a long-lived process
    whose environment changed)."""
    global _env
    _env = _UNREAD


def setting(conf: Any, name: str) -> Any:
    """``conf.get(name)`` for a Celery configuration, without Celery's per-lookup cost.

    Reads the same layers in the same order (changes, configuration source, defaults) under
    the same key spellings (Django namespace, old upper-case names); configuration objects
    of another kind are asked through ``get``.
    """
    if not isinstance(conf, ConfigurationView):
        return conf.get(name)
    return _lookup(conf.maps, _keys(conf, name))


@dataclass(frozen=True, slots=True)
class _Reading:
    """How to read the setting from ``conf``: its layers and key spellings (Celery swaps
    the layers in place when a pending configuration loads: then they are read again)."""

    conf: Any
    maps: Any
    keys: tuple[str, ...]

    @classmethod
    def of(cls, conf: Any) -> _Reading:
        if isinstance(conf, ConfigurationView):
            return cls(conf, conf.maps, _keys(conf, SETTING))
        return cls(conf, None, ())


@dataclass(frozen=True, slots=True)
class _Decisions:
    """The switch parsed from one value, and the answer per task name made with it."""

    raw: Any
    switch: Switch | None
    by_name: dict[str, bool]


@dataclass(slots=True)
class _Cache:
    """One Celery app's routing state; each part is replaced whole (threads share it)."""

    reading: _Reading | None = None
    decisions: _Decisions | None = None


def routed_to_celery(task: Any, app: Any) -> bool:
    """Whether calls of ``task`` take Celery's own path on ``app``: the task is switched
    back (module docs), or it was not made by this layer (a task Celery's own decorator
    created on a compat app, such as ``celery.ping``)."""
    if not registry.made_here(task):
        return True
    decisions = _current_decisions(app)
    if decisions is None or decisions.switch is None:
        return False
    name = task.name
    decided = decisions.by_name.get(name)
    if decided is None:
        decided = decisions.by_name[name] = decisions.switch.matches(name, type(task).__module__)
    return decided


def switches_back(app: Any) -> bool:
    """Whether the configuration of ``app`` (the setting, or the environment variable that
    replaces it) sends any task to Celery."""
    decisions = _current_decisions(app)
    return decisions is not None and decisions.switch is not None


def _current_decisions(app: Any) -> _Decisions | None:
    """The decisions for the value in force on ``app`` (``None``: no value at all)."""
    raw = env_value()
    cache: _Cache | None = app.__dict__.get(_ATTRIBUTE)
    if cache is None:
        cache = app.__dict__.setdefault(_ATTRIBUTE, _Cache())
    if raw is None:
        conf = app.conf
        reading = cache.reading
        if reading is None or reading.conf is not conf or reading.maps is not conf.maps:
            reading = cache.reading = _Reading.of(conf)
        raw = _lookup(reading.maps, reading.keys) if reading.keys else conf.get(SETTING)
        if raw is None:
            return None
    frozen = _frozen(raw)
    decisions = cache.decisions
    if decisions is None or frozen != decisions.raw:  # a new value (a list changed in place)
        switch = parse(raw, ENV_VAR if raw is _env else SETTING)
        decisions = cache.decisions = _Decisions(frozen, switch, {})
    return decisions


def _frozen(value: Any) -> Any:
    """A copy of ``value`` to compare later values with (a list changed in place differs)."""
    return tuple(value) if isinstance(value, list | set | frozenset) else value


def switched_back(app: Any, tasks: Iterable[Any] | None = None) -> list[str]:
    """Names of the compat tasks (of ``app``'s registry, or ``tasks``) that the current
    configuration sends to Celery: check a rollback before deploying it."""
    candidates = list(app.tasks.values()) if tasks is None else list(tasks)
    return sorted(
        task.name for task in candidates if registry.made_here(task) and routed_to_celery(task, app)
    )


__all__ = [
    "ENV_VAR",
    "SETTING",
    "Switch",
    "parse",
    "reload",
    "routed_to_celery",
    "setting",
    "switched_back",
    "switches_back",
]
