"""Celery settings mapped onto pynenc options: the one table of what applies and what not.

Celery's own ``Settings`` object reads the names (lower-case, old upper-case, the Django
``CELERY_`` namespace); this module turns the resolved values into pynenc configuration.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from pynenc.exceptions import ConfigError
from pynenc_celery_compat.serialization import CELERY_JSON

#: result-backend URL scheme -> pynenc state backend URL builder
_MEMORY = "memory://"


def state_backend_url(result_backend: str | None, broker_url: str | None) -> str:
    """pynenc's state-backend URL for Celery's ``result_backend`` setting.

    ``redis://``/``rediss://`` stay Redis, ``cache+memory://`` and ``memory://`` are the
    in-process memory backend, ``db+sqlite:///path`` is SQLite at ``path``. No backend (or
    ``rpc://``) keeps results where the broker can hold them: Redis when the broker is
    Redis, otherwise in memory (in-process only).
    """
    url = (result_backend or "").strip()
    if not url or url.startswith("rpc://"):
        broker = (broker_url or "").strip()
        if broker.startswith(("redis://", "rediss://")):
            return broker
        return _MEMORY
    if url.startswith(("redis://", "rediss://", "unix://")):
        return url
    if url in ("cache+memory://", "memory://", "cache+memory"):
        return _MEMORY
    match = re.fullmatch(r"db\+sqlite:///(?P<path>.*)", url)
    if match:
        return f"sqlite:///{match['path']}"
    if url.startswith("sqlite:///"):
        return url
    raise ConfigError(
        f"result_backend {url!r} has no pynenc state backend: use redis://…, "
        "db+sqlite:///path.db or cache+memory:// (see docs/celery.md, 'Settings')"
    )


def broker_url(value: str | None) -> str:
    """pynenc's kombu broker URL for Celery's ``broker_url`` (unset: ``memory://``)."""
    url = (value or "").strip()
    return url or _MEMORY


def pynenc_config_values(celery_app: Any) -> dict[str, Any]:
    """pynenc ``config_values`` for ``celery_app`` (its resolved settings)."""
    conf = celery_app.conf
    broker = broker_url(conf.broker_url)
    values: dict[str, Any] = {
        "app_id": celery_app.main or "celery",
        "broker_url": broker,
        "state_backend_url": state_backend_url(conf.result_backend, broker),
    }
    if conf.task_serializer == "json":  # Celery's default: kombu's JSON, as a worker sees it
        values["serializer"] = CELERY_JSON
    return values


def warn_once(message: str, _seen: set[str] = set()) -> None:  # noqa: B006
    """Warn about a setting or flag that does not apply, once per process."""
    if message in _seen:
        return
    _seen.add(message)
    warnings.warn(message, stacklevel=3)
