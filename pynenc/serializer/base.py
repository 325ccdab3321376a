"""The ``Serializer`` protocol and the registry that picks a serializer by name.

Built-in serializers (``json``, ``pickle``, ``cloudpickle``) are registered as lazy factories;
third parties add theirs with :func:`register_serializer` or through the
``pynenc.serializers`` entry-point group (each entry point loads to a zero-argument factory).
Instances are created on first use and cached, so a serializer must be stateless or thread-safe.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

from pynenc.exceptions import ConfigError

#: Entry-point group scanned for serializers that were not registered in code.
ENTRY_POINT_GROUP = "pynenc.serializers"


@runtime_checkable
class Serializer(Protocol):
    """Turns one Python value into text and back.

    Implementations raise :class:`~pynenc.exceptions.SerializationError` when a value cannot be
    encoded or a text cannot be decoded.
    """

    name: str
    content_type: str

    def dumps(self, obj: Any) -> str:
        """Encode ``obj`` as text."""
        ...

    def loads(self, data: str) -> Any:
        """Decode text produced by :meth:`dumps`."""
        ...


SerializerFactory = Callable[[], Serializer]


def _json_factory() -> Serializer:
    from pynenc.serializer.json_serializer import JsonSerializer

    return JsonSerializer()


def _pickle_factory() -> Serializer:
    from pynenc.serializer.pickle_serializer import PickleSerializer

    return PickleSerializer()


def _cloudpickle_factory() -> Serializer:
    from pynenc.serializer.pickle_serializer import CloudpickleSerializer

    return CloudpickleSerializer()


_factories: dict[str, SerializerFactory] = {
    "json": _json_factory,
    "pickle": _pickle_factory,
    "cloudpickle": _cloudpickle_factory,
}
_instances: dict[str, Serializer] = {}
_lock = threading.RLock()  # a factory may itself ask for another serializer


def register_serializer(name: str, factory: SerializerFactory) -> None:
    """Make ``factory()`` the serializer known as ``name``, replacing any earlier one.

    :param name: the name used in configuration (``app.conf.serializer``).
    :param factory: a zero-argument callable returning a :class:`Serializer`; it is called
        once, on first use.
    """
    if not name or not isinstance(name, str):
        raise ConfigError(f"A serializer name must be a non-empty string, got {name!r}")
    with _lock:
        _factories[name] = factory
        # A replaced serializer must not keep being served from the cache.
        _instances.pop(name, None)


def serializer_names() -> list[str]:
    """Every name :func:`get_serializer` accepts, sorted."""
    return sorted(set(_factories) | set(metadata.entry_points(group=ENTRY_POINT_GROUP).names))


def get_serializer(name: str) -> Serializer:
    """The serializer registered as ``name`` (one cached instance per name).

    :raises ConfigError: when no serializer has that name, or its factory fails.
    """
    instance = _instances.get(name)
    if instance is not None:
        return instance
    with _lock:
        instance = _instances.get(name)
        if instance is None:
            instance = _instances[name] = _build(name)
    return instance


def _build(name: str) -> Serializer:
    factory = _factories.get(name) or _entry_point_factory(name)
    if factory is None:
        valid = serializer_names()
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown serializer {name!r}. Registered serializers: {', '.join(valid)}.{hint} "
            "Set the option serializer (PYNENC__SERIALIZER) to one of them, or register "
            "yours before its first use with pynenc.serializer.register_serializer(name, "
            f"factory) or the {ENTRY_POINT_GROUP!r} entry-point group."
        )
    try:
        instance = factory()
    except Exception as exc:
        raise ConfigError(f"The factory of serializer {name!r} failed: {exc}") from exc
    if not isinstance(instance, Serializer):
        raise ConfigError(
            f"The factory of serializer {name!r} returned {type(instance).__qualname__}, "
            "which lacks name, content_type, dumps or loads"
        )
    return instance


def _entry_point_factory(name: str) -> SerializerFactory | None:
    found = metadata.entry_points(group=ENTRY_POINT_GROUP, name=name)
    for entry_point in found:
        try:
            factory: SerializerFactory = entry_point.load()
        except Exception as exc:
            raise ConfigError(
                f"Serializer {name!r} from entry point {entry_point.value!r} cannot be loaded: "
                f"{exc}"
            ) from exc
        return factory
    return None
