"""Celery settings mapped onto pynenc options, and a warning for each one that does not apply.

Celery's own ``Settings`` object (``app.conf``) reads the names: lower-case, old upper-case
(``CELERY_ALWAYS_EAGER``, ``BROKER_URL``), the Django ``CELERY_`` namespace, and the
``CELERY_BROKER_URL``/``CELERY_RESULT_BACKEND`` environment variables. This module turns the
resolved values into the ``config_values`` of the pynenc app the compat tasks run on, and
warns once per setting and process about those that have no effect there. What each setting
does is the table in :mod:`pynenc_celery_compat.settings`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from celery.app.defaults import DEFAULTS

from pynenc.exceptions import ConfigError, PynencWarning
from pynenc_celery_compat.serialization import pynenc_serializer
from pynenc_celery_compat.settings import SETTINGS, Setting, find

MEMORY = "memory://"

#: Celery's result_backend forms that become a pynenc state backend, for error messages
SUPPORTED_BACKENDS = (
    "redis://host:port/db, rediss://… (Redis), db+sqlite:///path.db (SQLite), "
    "cache+memory:// (memory, one process), rpc:// or unset (the broker's Redis)"
)

#: worker_pool -> (runner_cls, threads override)
_POOLS: dict[str, tuple[str, int | None]] = {
    "prefork": ("PersistentProcessRunner", None),
    "processes": ("PersistentProcessRunner", None),
    "threads": ("ThreadRunner", None),
    "solo": ("ThreadRunner", 1),
}


class CelerySettingWarning(PynencWarning):
    """A Celery setting that has no effect on the tasks running on pynenc."""


def broker_url(value: Any) -> str:
    """pynenc's kombu broker URL for Celery's ``broker_url`` (unset: ``memory://``).

    A list of URLs (Celery's failover form) becomes kombu's ``;``-separated string.
    """
    if isinstance(value, list | tuple):
        value = ";".join(str(url) for url in value)
    url = str(value or "").strip()
    return url or MEMORY


def state_backend_url(result_backend: Any, broker: str) -> str:
    """pynenc's state-backend URL for Celery's ``result_backend`` (``broker``: the mapped
    ``broker_url``).

    ``redis://``/``rediss://`` stay Redis; ``cache+memory://`` is the in-process memory
    backend; ``db+sqlite:///path`` is SQLite at ``path``. Unset or ``rpc://`` (results
    sent back through the broker, in Celery) keep the state where the broker is: the
    broker's Redis, or memory with a ``memory://`` broker. pynenc cannot run without a
    state backend that callers and runners share, so any other broker needs a result
    backend.

    :raises ConfigError: naming the setting, the value and the supported forms.
    """
    url = str(result_backend or "").strip()
    if not url or url.startswith("rpc://") or url == "rpc":
        if broker.startswith(("redis://", "rediss://")):
            return broker.split(";")[0]
        if broker.startswith(MEMORY):
            return MEMORY
        shown = "rpc://" if url else "unset"
        raise ConfigError(
            f"result_backend is {shown} and broker_url is {_scheme(broker)}: pynenc keeps "
            "the state of every task call (status, result) in a state backend that "
            "callers and runners share, and that broker cannot hold it. Set result_backend "
            f"to one of: {SUPPORTED_BACKENDS}; or name a pynenc state backend in the "
            "pynenc setting ({'state_backend_url': 'redis://…'}). See docs/celery.md, "
            "'Settings'."
        )
    if url.startswith(("redis://", "rediss://")):
        return url
    if url in ("cache+memory://", "cache+memory", "memory://"):
        return MEMORY
    match = re.fullmatch(r"db\+sqlite:///(?P<path>.+)", url)
    if match:
        return f"sqlite:///{match['path']}"
    raise ConfigError(
        f"result_backend {_scheme(url)} has no pynenc state backend. Supported: "
        f"{SUPPORTED_BACKENDS}. To keep this result backend for tasks still on Celery, "
        "name pynenc's own in the pynenc setting ({'state_backend_url': 'redis://…'}; "
        "Django: CELERY_PYNENC). See docs/celery.md, 'Settings'."
    )


def _scheme(url: str) -> str:
    """A URL shown without credentials: its scheme (``'amqp://…'``), or the bare name."""
    scheme, sep, _ = url.partition("://")
    return f"'{scheme}://…'" if sep else repr(url)


def pynenc_config_values(celery_app: Any) -> dict[str, Any]:
    """pynenc ``config_values`` for ``celery_app`` from its resolved settings (the table
    in :mod:`pynenc_celery_compat.settings`, effect ``pynenc``), with the ``pynenc``
    setting's values over them.

    :raises ConfigError: a setting pynenc cannot map (an unsupported result backend…).
    """
    conf = celery_app.conf
    overrides = _overrides(conf.get("pynenc"))
    values: dict[str, Any] = {"app_id": celery_app.main or "celery"}
    values["broker_url"] = broker_url(conf.broker_url)
    if "state_backend_url" not in overrides:
        values["state_backend_url"] = state_backend_url(conf.result_backend, values["broker_url"])
    values["serializer"] = pynenc_serializer(conf.task_serializer)  # json: kombu's JSON
    accepted = [pynenc_serializer(name) for name in _names(conf.accept_content)]
    accepted = [name for name in accepted if name != values["serializer"]]
    if accepted:
        values["accept_serializers"] = accepted
    modules = [*_names(conf.imports), *_names(conf.include)]
    # with a fix-up (Django's), Celery's loader imports them once it has set Django up:
    # a runner does that when it starts (bridge.prepare_for_runner), after pynenc's own
    # import of task_modules, which would run before Django's setup
    if modules and not any(getattr(celery_app, "_fixups", None) or ()):
        values["task_modules"] = list(dict.fromkeys(modules))
    values["task"] = _task_defaults(conf)
    values["broker"] = _broker(conf)
    runner, runner_cls = _runner(conf)
    queues = _names(conf.task_queues)
    if queues:
        runner["queues"] = queues
    if runner:
        values["runner"] = runner
    if runner_cls:
        values["runner_cls"] = runner_cls
    zone = celery_timezone(conf)
    if zone is not None:
        values["timezone"] = zone
    deadline = conf.get("beat_cron_starting_deadline")
    if deadline is not None:  # a missed run older than that is dropped, as Celery's beat
        values["trigger"] = {"missed": "skip", "missed_after": deadline}
    return _merged(values, overrides)


def celery_timezone(conf: Any) -> str | None:
    """pynenc's ``timezone`` (of beat's crontabs) for Celery's ``timezone`` and
    ``enable_utc``, as Celery's ``app.timezone`` reads them: the setting, else UTC with
    ``enable_utc`` (``None``: pynenc's default, UTC), else the machine's local zone."""
    name = conf.timezone
    if name:
        return str(getattr(name, "key", name))  # a name, or a ZoneInfo
    if conf.enable_utc:
        return None
    from celery.utils.time import timezone

    key = getattr(timezone.local, "key", None)
    if key:
        return str(key)
    warn_once(
        "timezone-local",
        "enable_utc=False without timezone: the machine's local zone has no IANA name here, "
        "so beat's crontabs run in UTC. Set the timezone setting ('Europe/Madrid').",
        CelerySettingWarning,
    )
    return None


def _overrides(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"The pynenc setting must be a mapping of pynenc options (e.g. {{'runner': "
            f"{{'threads': 4}}}}), got {type(value).__name__}: {value!r}"
        )
    return dict(value)


def _merged(values: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(values)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _names(value: Any) -> list[str]:
    """Names from a string (comma-separated), a list, a dict (its keys) or kombu Queues."""
    if not value:
        return []
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, Mapping):
        return [str(name) for name in value]
    return [str(getattr(item, "name", item)) for item in value]


def _task_defaults(conf: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"queue": conf.task_default_queue or "celery"}
    for celery_name, pynenc_name in (
        ("task_default_priority", "priority"),
        ("task_default_rate_limit", "rate_limit"),
        ("task_time_limit", "timeout"),
        ("task_soft_time_limit", "soft_timeout"),
    ):
        value = conf.get(celery_name)
        if value is not None:
            task[pynenc_name] = value
    return task


def _broker(conf: Any) -> dict[str, Any]:
    broker: dict[str, Any] = {}
    options = conf.broker_transport_options
    if options:
        broker["transport_options"] = dict(options)
    if not conf.task_publish_retry:
        broker["publish_retries"] = 0
    else:
        policy = conf.task_publish_retry_policy or {}
        retries = policy.get("max_retries")
        if retries is not None:
            broker["publish_retries"] = retries
    return broker


def _runner(conf: Any) -> tuple[dict[str, Any], str | None]:
    runner: dict[str, Any] = {}
    concurrency = conf.worker_concurrency
    if concurrency:
        runner["threads"] = runner["processes"] = int(concurrency)
    stop_grace = conf.worker_soft_shutdown_timeout
    if stop_grace:
        runner["stop_grace"] = float(stop_grace)
    pool = conf.worker_pool
    if not conf.value_set_for("worker_pool") or not pool:
        return runner, None
    name = str(pool).lower()
    if name not in _POOLS:
        warn_once(
            "worker_pool",
            f"Celery setting worker_pool={pool!r} has no pynenc runner: compat tasks run on "
            "a ThreadRunner (prefork → PersistentProcessRunner, threads, solo).",
            CelerySettingWarning,
        )
        return runner, "ThreadRunner"
    runner_cls, threads = _POOLS[name]
    if threads is not None:
        runner["threads"] = threads
    return runner, runner_cls


# -- settings that do not apply ----------------------------------------------------------


def _same_as(other: str) -> Callable[[Any, Any], bool]:
    return lambda conf, value: value is None or value == conf.get(other)


#: settings of effect "ignored" that still apply with some values: (conf, value) -> applies
_APPLIES_WHEN: dict[str, Callable[[Any, Any], bool]] = {
    "result_serializer": _same_as("task_serializer"),
    "result_accept_content": _same_as("accept_content"),
}


def _ignored_names() -> list[tuple[str, Setting]]:
    names: dict[str, Setting] = {}
    for name in DEFAULTS:
        setting = find(name)
        if setting is not None and setting.effect == "ignored":
            names[name] = setting
    for setting in SETTINGS:
        if setting.effect == "ignored" and not setting.is_family:
            names[setting.name] = setting
    return sorted(names.items())


_IGNORED = _ignored_names()


def ignored_settings(conf: Any) -> list[tuple[str, Any, Setting]]:
    """The settings of ``conf`` that have no effect on pynenc and are set to something
    other than Celery's default (for ``result_serializer`` and ``result_accept_content``:
    other than what the mapped settings give): ``(name, value, row)`` each."""
    found = []
    for name, setting in _IGNORED:
        value = conf.get(name)
        applies = _APPLIES_WHEN.get(name)
        if applies is not None:  # these depend on another setting, defaults included
            if applies(conf, value):
                continue
        elif value is None or value == DEFAULTS.get(name):
            continue
        found.append((name, value, setting))
    return found


def warn_ignored_settings(conf: Any) -> None:
    """Warn, once per setting and process, about each setting that does not apply."""
    for name, value, setting in ignored_settings(conf):
        warn_once(
            name,
            f"Celery setting {name}={value!r} has no effect on the tasks that run on pynenc: "
            f"{setting.note}. (docs/celery.md, 'Settings')",
            CelerySettingWarning,
        )


_warned: set[str] = set()


def warn_once(key: str, message: str | None = None, category: type[Warning] = UserWarning) -> None:
    """Warn ``message`` unless ``key`` was warned about in this process already.

    ``warn_once(message)`` alone uses the message as its key.
    """
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message or key, category, stacklevel=3)


__all__ = [
    "CelerySettingWarning",
    "SUPPORTED_BACKENDS",
    "broker_url",
    "celery_timezone",
    "ignored_settings",
    "pynenc_config_values",
    "state_backend_url",
    "warn_ignored_settings",
    "warn_once",
]
