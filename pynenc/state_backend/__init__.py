"""State backends, chosen by URL scheme through an explicit alias table."""

from __future__ import annotations

import importlib

from pynenc.conf.urls import check_database_number, check_host_and_port, did_you_mean, url_error
from pynenc.records import (
    InvocationRecord,
    InvocationSummary,
    StatusEntry,
    StatusUpdate,
    StatusUpdateWithArguments,
)
from pynenc.state_backend.base import Capabilities, StateBackend

#: URL scheme -> "module:Class"; imported only when chosen. Extend with register_backend().
BACKENDS: dict[str, str] = {
    "memory": "pynenc.state_backend.memory:MemoryStateBackend",
    "sqlite": "pynenc.state_backend.sqlite:SqliteStateBackend",
    "redis": "pynenc.state_backend.redis:RedisStateBackend",
    "rediss": "pynenc.state_backend.redis:RedisStateBackend",
}


def register_backend(scheme: str, target: str) -> None:
    """Make ``scheme://`` URLs select the backend class at ``module:Class``."""
    BACKENDS[scheme] = target


#: The state backend URLs that work, for error messages.
STATE_BACKEND_URL_FORMS = (
    "memory://, sqlite:///relative.db or sqlite:////absolute/path.db, "
    "redis://[:password@]host[:port][/db] (rediss:// for TLS)"
)


def create_state_backend(
    url: str, app_id: str, connect_timeout: float | None = None
) -> StateBackend:
    """Build the backend named by ``url`` (``memory://``, …) for ``app_id``; it waits at
    most ``connect_timeout`` seconds for a server it has not reached yet.

    :raises ConfigError: the URL names no backend, or is malformed for its backend
        (no host, a port or database that is not a number, no SQLite file).
    """
    check_state_backend_url(url)
    target = BACKENDS[url.partition("://")[0]]
    module_name, _, class_name = target.partition(":")
    backend_cls: type[StateBackend] = getattr(importlib.import_module(module_name), class_name)
    backend = backend_cls(app_id, url)
    if connect_timeout is not None:
        backend.connect_timeout = connect_timeout
    return backend


def check_state_backend_url(url: str) -> None:
    """Refuse a ``state_backend_url`` no backend can use, saying why (:class:`ConfigError`)."""
    option = "state_backend_url"
    custom = sorted(set(BACKENDS) - {"memory", "sqlite", "redis", "rediss"})
    forms = STATE_BACKEND_URL_FORMS + "".join(f", {scheme}://" for scheme in custom)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise url_error(option, url, "it is not a URL (no '://')", forms)
    if scheme not in BACKENDS:
        hint = did_you_mean(scheme, BACKENDS)
        raise url_error(option, url, f"scheme {scheme!r} is not a state backend{hint}", forms)
    if scheme in ("redis", "rediss"):
        check_host_and_port(option, url, forms)
        check_database_number(option, url, forms)
    elif scheme == "sqlite" and (not rest.startswith("/") or rest.rstrip("/") == ""):
        raise url_error(option, url, "it names no SQLite database file after 'sqlite:///'", forms)


__all__ = [
    "BACKENDS",
    "Capabilities",
    "InvocationRecord",
    "InvocationSummary",
    "StateBackend",
    "StatusEntry",
    "StatusUpdate",
    "StatusUpdateWithArguments",
    "check_state_backend_url",
    "create_state_backend",
    "register_backend",
]
