"""Celery's JSON for pynenc: arguments and results encoded as a Celery worker sees them.

Celery sends a task's arguments and stores its result with kombu's JSON (``task_serializer``
and ``result_serializer`` default to ``json``): tuples arrive as lists, ``datetime``,
``date``, ``time``, ``UUID``, ``Decimal`` and ``bytes`` come back as themselves, and a value
JSON cannot carry (a set, an object) is refused when the call is made. The serializer
``celery-json`` does exactly that (it *is* kombu's JSON), so code written against a Celery
worker gets the values it was written for. Compat apps use it when ``task_serializer`` is
``json`` (see :func:`pynenc_celery_compat.config.pynenc_config_values`).

Every call goes through here twice on each side (arguments and result), so both directions
skip what costs without changing the text or the values: the encoder is kombu's, built once
rather than per value, and text that cannot hold one of kombu's tagged objects (no
``__type__`` in it, no ``\\u`` escape that could spell it) is decoded without the object
hook, which would return each of its dicts unchanged anyway.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.utils import json as kombu_json

from pynenc.exceptions import SerializationError
from pynenc.serializer import register_serializer

#: the pynenc serializer name of Celery's JSON
CELERY_JSON = "celery-json"

#: kombu's functions as imported: while they are still in place, ``dumps``' encoder (which
#: it builds, with these defaults, on every call) is built once, and ``loads`` is skipped
#: for text without a tagged object (replaced by the application: its own are called)
_KOMBU_DUMPS = kombu_json.dumps
_KOMBU_LOADS = kombu_json.loads
_ENCODER = kombu_json.JSONEncoder()


def _encode(obj: Any) -> str:
    if kombu_json.dumps is _KOMBU_DUMPS:
        if type(obj) is int:
            return int.__repr__(obj)  # the encoder's own text for an int
        if obj is None:
            return "null"
        text: str = _ENCODER.encode(obj)
        return text
    return str(kombu_json.dumps(obj))


def _decode(data: Any) -> Any:
    if (
        type(data) is str
        and "__type__" not in data
        and "\\u" not in data
        and kombu_json.loads is _KOMBU_LOADS
    ):
        return json.loads(data)  # what kombu's object hook would give: no dict is tagged
    return kombu_json.loads(data)


class CeleryJsonSerializer:
    """kombu's JSON as a pynenc serializer (what Celery's ``json`` serializer does)."""

    name = CELERY_JSON
    content_type = "application/json"

    def dumps(self, obj: Any) -> str:
        try:
            return _encode(obj)
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"{type(obj).__qualname__} cannot be sent as JSON, as Celery's json "
                f"serializer sends it: {exc}"
            ) from exc

    def loads(self, data: str) -> Any:
        try:
            return _decode(data)
        except ValueError as exc:
            raise SerializationError(f"not Celery JSON text: {exc}") from exc


def pynenc_serializer(celery_name: Any) -> str:
    """The pynenc serializer of Celery's serializer name (``task_serializer``,
    ``accept_content``): ``json`` is kombu's JSON (:data:`CELERY_JSON`), others keep their
    name (``pickle``, or one registered with ``pynenc.serializer.register_serializer``)."""
    name = str(celery_name or "json")
    return CELERY_JSON if name in ("json", "application/json") else name


register_serializer(CELERY_JSON, CeleryJsonSerializer)

__all__ = ["CELERY_JSON", "CeleryJsonSerializer", "pynenc_serializer"]
