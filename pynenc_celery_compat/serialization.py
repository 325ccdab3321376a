"""Celery's JSON for pynenc: arguments and results encoded as a Celery worker sees them.

Celery sends a task's arguments and stores its result with kombu's JSON (``task_serializer``
and ``result_serializer`` default to ``json``): tuples arrive as lists, ``datetime``,
``date``, ``time``, ``UUID``, ``Decimal`` and ``bytes`` come back as themselves, and a value
JSON cannot carry (a set, an object) is refused when the call is made. The serializer
``celery-json`` does exactly that (it *is* kombu's JSON), so code written against a Celery
worker gets the values it was written for. Compat apps use it when ``task_serializer`` is
``json`` (see :func:`pynenc_celery_compat.config.pynenc_config_values`).
"""

from __future__ import annotations

from typing import Any

from kombu.utils import json as kombu_json

from pynenc.exceptions import SerializationError
from pynenc.serializer import register_serializer

#: the pynenc serializer name of Celery's JSON
CELERY_JSON = "celery-json"


class CeleryJsonSerializer:
    """kombu's JSON as a pynenc serializer (what Celery's ``json`` serializer does)."""

    name = CELERY_JSON
    content_type = "application/json"

    def dumps(self, obj: Any) -> str:
        try:
            return str(kombu_json.dumps(obj))
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"{type(obj).__qualname__} cannot be sent as JSON, as Celery's json "
                f"serializer sends it: {exc}"
            ) from exc

    def loads(self, data: str) -> Any:
        try:
            return kombu_json.loads(data)
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
