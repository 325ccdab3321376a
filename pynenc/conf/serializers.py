"""Option values that name serializers: the app's ``serializer``, ``accept_serializers``
and a task's own ``serializer`` (parsed here, looked up when first used)."""

from __future__ import annotations

from typing import Any

from pynenc.conf.option import string_tuple, text

#: The serializers pynenc ships; others are added with ``pynenc.serializer.register_serializer``.
SERIALIZERS = ("json", "pickle", "cloudpickle")


def serializer_name(raw: Any) -> str:
    """The name of a serializer: any non-empty name, since a serializer may be registered
    after the configuration is read; it is looked up when first used. The built-in names are
    accepted in any case."""
    name = text(raw).strip()
    return name.lower() if name.lower() in SERIALIZERS else name


def optional_serializer_name(raw: Any) -> str | None:
    """A task's ``serializer``: ``None`` (the app's; ``none``/``null`` in text) or a name."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "null")):
        return None
    return serializer_name(raw)


def serializer_names(raw: Any) -> tuple[str, ...]:
    """``accept_serializers``: names of serializers (comma-separated in text)."""
    return tuple(dict.fromkeys(serializer_name(name) for name in string_tuple(raw)))


def not_accepted(name: str, what: str, serializer: str, accepted: tuple[str, ...]) -> str:
    """Why ``name`` (used by ``what``) is refused by an app whose ``serializer`` and
    ``accept_serializers`` are given, and how to accept it."""
    listed = ", ".join(repr(n) for n in accepted) or "none"
    unsafe = name in ("pickle", "cloudpickle")
    return (
        f"{what}: serializer {name!r} is not accepted by this app, which accepts its "
        f"serializer {serializer!r} and accept_serializers ({listed}). Add {name!r} to "
        f"accept_serializers on the callers and the runners (PYNENC__ACCEPT_SERIALIZERS="
        f"{','.join((*accepted, name))}, or app.conf.accept_serializers = "
        f"{[*accepted, name]!r})"
        + (
            " only if every producer on the broker and the state backend is trusted: "
            f"decoding {name} runs code chosen by whoever wrote the data"
            if unsafe
            else ""
        )
        + ", or use an accepted serializer."
    )
