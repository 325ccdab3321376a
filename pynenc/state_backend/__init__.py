"""State backends, chosen by URL scheme through an explicit alias table."""

from __future__ import annotations

import difflib
import importlib
from urllib.parse import urlsplit

from pynenc.exceptions import ConfigError
from pynenc.state_backend.base import Capabilities, StateBackend
from pynenc.state_backend.records import (
    InvocationRecord,
    InvocationSummary,
    StatusEntry,
    StatusUpdate,
)

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


def create_state_backend(
    url: str, app_id: str, connect_timeout: float | None = None
) -> StateBackend:
    """Build the backend named by ``url`` (``memory://``, …) for ``app_id``; it waits at
    most ``connect_timeout`` seconds for a server it has not reached yet."""
    scheme = urlsplit(url).scheme
    target = BACKENDS.get(scheme)
    if target is None:
        hint = difflib.get_close_matches(scheme, BACKENDS, n=1)
        did_you_mean = f" Did you mean '{hint[0]}://'?" if hint else ""
        raise ConfigError(
            f"Unknown state backend URL {url!r}: scheme {scheme!r} is not one of "
            f"{', '.join(s + '://' for s in sorted(BACKENDS))}.{did_you_mean} "
            "Set state_backend_url (PYNENC__STATE_BACKEND_URL)."
        )
    module_name, _, class_name = target.partition(":")
    backend_cls: type[StateBackend] = getattr(importlib.import_module(module_name), class_name)
    backend = backend_cls(app_id, url)
    if connect_timeout is not None:
        backend.connect_timeout = connect_timeout
    return backend


__all__ = [
    "BACKENDS",
    "Capabilities",
    "InvocationRecord",
    "InvocationSummary",
    "StateBackend",
    "StatusEntry",
    "StatusUpdate",
    "create_state_backend",
    "register_backend",
]
