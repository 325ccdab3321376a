"""Opt-in serializers for arbitrary Python objects: ``pickle`` and ``cloudpickle``.

The pickle stream is base64-encoded so that the result is ASCII text like every other
serializer's. ``cloudpickle`` also handles lambdas, closures and classes defined in
``__main__``; its output is an ordinary pickle stream, so it is decoded with :mod:`pickle`.

Decoding a pickle runs code chosen by whoever wrote it: use these serializers only when every
producer on the broker is trusted.
"""

from __future__ import annotations

import base64
import binascii
import pickle
from typing import Any

from pynenc.exceptions import SerializationError


class PickleSerializer:
    """:mod:`pickle` at the highest protocol, as base64 text."""

    name = "pickle"
    content_type = "application/x-python-pickle"

    def _pickle(self, obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    def dumps(self, obj: Any) -> str:
        """Encode ``obj``; raise :class:`SerializationError` when it cannot be pickled."""
        try:
            raw = self._pickle(obj)
        # __reduce__ and __getstate__ are user code and may raise anything.
        except Exception as exc:
            raise SerializationError(
                f"Object of type {type(obj).__qualname__} cannot be serialized with the "
                f"{self.name!r} serializer: {exc}"
            ) from exc
        return base64.b64encode(raw).decode("ascii")

    def loads(self, data: str) -> Any:
        """Decode text written by :meth:`dumps`; raise :class:`SerializationError` if invalid."""
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise self._decode_error(data, f"not base64: {exc}") from exc
        try:
            return pickle.loads(raw)
        # Unpickling imports modules and runs reducers, so any exception can come out.
        except Exception as exc:
            raise self._decode_error(data, f"{type(exc).__name__}: {exc}") from exc

    def _decode_error(self, data: str, reason: str) -> SerializationError:
        return SerializationError(
            f"The {self.name!r} serializer cannot decode the data ({reason}); "
            f"data starts with {str(data)[:80]!r}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CloudpickleSerializer(PickleSerializer):
    """:mod:`cloudpickle` (imported on first use), for lambdas, closures and local classes."""

    name = "cloudpickle"
    content_type = "application/x-python-cloudpickle"

    def _pickle(self, obj: Any) -> bytes:
        import cloudpickle  # lazily: most apps never pick this serializer

        raw: bytes = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return raw
