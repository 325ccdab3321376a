"""The default serializer: JSON text that round-trips common Python values exactly.

Plain JSON values are written as they are. Everything else JSON cannot say is written as a
*tagged* object, ``{"__t": <code>, "v": <payload>}``:

=========  ===========================================  ===============================
code       Python type                                  payload
=========  ===========================================  ===============================
tuple      ``tuple``                                    list of items
set        ``set``                                      list of items (sorted if it can)
fset       ``frozenset``                                list of items (sorted if it can)
map        ``dict`` with a non-str key, or with "__t"   list of ``[key, value]`` pairs
dt         ``datetime``                                 ISO text; ``[ISO, zone]`` for a ZoneInfo
date       ``date``                                     ISO text
time       ``time``                                     ISO text; ``[ISO, zone]`` for a ZoneInfo
td         ``timedelta``                                ``[days, seconds, microseconds]``
uuid       ``UUID``                                     canonical text
dec        ``Decimal``                                  ``str(value)``
bytes      ``bytes``                                    base64 text
float      ``float`` NaN and ±infinity                  ``repr(value)``
=========  ===========================================  ===============================

A user dict holding the key ``"__t"`` is written in the ``map`` form, so every object carrying
that key in the output is a tag. Types are matched exactly: a subclass (``IntEnum``, a
namedtuple, ``OrderedDict``) is refused rather than silently decoded as its base.

Both directions have a fast path, because every task call goes through here: values made only
of str/int/float/bool/None/list/str-keyed dict are checked in one cheap pass and handed to the
C encoder untouched, and text without the tag key is decoded without an object hook.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pynenc.exceptions import SerializationError

TAG = "__t"
VALUE = "v"
_TAG_MARK = f'"{TAG}"'
_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})

# check_circular is off because the encoder only ever sees acyclic trees: the plain check and
# the tagging walk hit the recursion limit on a cycle before the encoder runs.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
)
# JSONEncoder.encode builds a new C encoder on every call, a third of the cost of a small
# value; build it once instead (same arguments as JSONEncoder.iterencode passes it).
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
if _make_c_encoder is not None:
    _c_encoder = _make_c_encoder(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def _to_text(obj: Any) -> str:
        return "".join(_c_encoder(obj, 0))
else:  # an interpreter without the C accelerator

    def _to_text(obj: Any) -> str:
        return _ENCODER.encode(obj)


def _is_plain(obj: Any) -> bool:
    """Whether ``obj`` is already JSON that decodes back to itself (NaN aside)."""
    cls = type(obj)
    if cls is dict:
        if TAG in obj or not _STR.issuperset(map(type, obj)):
            return False
        values: Any = obj.values()
    elif cls is list:
        values = obj
    else:
        return cls in _PLAIN_SCALARS
    # Scanning types through map() runs in C, which keeps long flat lists cheap.
    return _PLAIN_SCALARS.issuperset(map(type, values)) or all(map(_is_plain, values))


def _items(collection: set[Any] | frozenset[Any]) -> list[Any]:
    # Sorted when possible so equal sets give equal text (content hashes stay stable).
    try:
        ordered = sorted(collection)
    except TypeError:
        ordered = list(collection)
    return [_encode(item) for item in ordered]


def _zoned(value: datetime | time) -> Any:
    zone = value.tzinfo
    # Keep a named zone, not just the offset of the day: later arithmetic must follow its DST
    # rules, and a time() has no offset at all in a named zone.
    if isinstance(zone, ZoneInfo) and zone.key:
        return [value.isoformat(), zone.key]
    return value.isoformat()


_TAGGERS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    tuple: ("tuple", lambda v: [_encode(item) for item in v]),
    set: ("set", _items),
    frozenset: ("fset", _items),
    datetime: ("dt", _zoned),
    date: ("date", date.isoformat),
    time: ("time", _zoned),
    timedelta: ("td", lambda v: [v.days, v.seconds, v.microseconds]),
    uuid.UUID: ("uuid", str),
    Decimal: ("dec", str),
    bytes: ("bytes", lambda v: base64.b64encode(v).decode("ascii")),
}

SUPPORTED_TYPES = (
    "None, bool, int, float, str, list, tuple, dict, set, frozenset, "
    "datetime, date, time, timedelta, UUID, Decimal, bytes"
)


def _encode(obj: Any) -> Any:
    """Rewrite ``obj`` into plain JSON values, tagging what JSON cannot express."""
    cls = type(obj)
    if cls is str or cls is int or cls is bool or obj is None:
        return obj
    if cls is float:
        return obj if math.isfinite(obj) else {TAG: "float", VALUE: repr(obj)}
    if cls is list:
        return [_encode(item) for item in obj]
    if cls is dict:
        if TAG not in obj and _STR.issuperset(map(type, obj)):
            return {key: _encode(item) for key, item in obj.items()}
        return {TAG: "map", VALUE: [[_encode(k), _encode(v)] for k, v in obj.items()]}
    tagger = _TAGGERS.get(cls)
    if tagger is None:
        raise SerializationError(_unsupported(obj))
    code, convert = tagger
    return {TAG: code, VALUE: convert(obj)}


def _unsupported(obj: Any) -> str:
    cls = type(obj)
    path = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    bases: tuple[type, ...] = (int, float, str, list, dict, *_TAGGERS)
    base = next((b for b in bases if isinstance(obj, b)), None)
    why = (
        f" It is a subclass of {base.__qualname__}; only exact types are accepted so that "
        "values come back as the type they were."
        if base is not None
        else ""
    )
    return (
        f"Object of type {path} cannot be serialized with the 'json' serializer, which "
        f"supports {SUPPORTED_TYPES}.{why}"
    )


def _decode_datetime(payload: Any) -> datetime:
    if isinstance(payload, list):
        text, key = payload
        return datetime.fromisoformat(text).astimezone(ZoneInfo(key))
    return datetime.fromisoformat(payload)


def _decode_time(payload: Any) -> time:
    if isinstance(payload, list):
        text, key = payload
        return time.fromisoformat(text).replace(tzinfo=ZoneInfo(key))
    return time.fromisoformat(payload)


def _sequence(build: Callable[[list[Any]], Any]) -> Callable[[Any], Any]:
    def decode(items: Any) -> Any:
        if type(items) is not list:  # tuple("abc") would quietly split a string
            raise TypeError(f"expected a list, got {type(items).__qualname__}")
        return build(items)

    return decode


def _decode_map(pairs: list[list[Any]]) -> dict[Any, Any]:
    return {key: value for key, value in pairs}


def _decode_bytes(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _decode_float(text: str) -> float:
    if text not in ("nan", "inf", "-inf"):
        raise ValueError(f"{text!r} is not a non-finite float")
    return float(text)


_UNTAGGERS: dict[str, Callable[[Any], Any]] = {
    "tuple": _sequence(tuple),
    "set": _sequence(set),
    "fset": _sequence(frozenset),
    "map": _sequence(_decode_map),
    "dt": _decode_datetime,
    "date": date.fromisoformat,
    "time": _decode_time,
    "td": lambda v: timedelta(*v),
    "uuid": uuid.UUID,
    "dec": Decimal,
    "bytes": _decode_bytes,
    "float": _decode_float,
}


def _untag(obj: dict[str, Any]) -> Any:
    # json calls this innermost-first, so tagged payloads arrive already decoded.
    if TAG not in obj:
        return obj
    code = obj[TAG]
    untag = _UNTAGGERS.get(code) if isinstance(code, str) else None
    if untag is None or len(obj) != 2 or VALUE not in obj:
        raise ValueError(f"malformed tag {obj!r:.80}")
    try:
        return untag(obj[VALUE])
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise ValueError(f"bad {code!r} payload: {exc}") from exc


_PLAIN_DECODER = json.JSONDecoder()
_TAGGED_DECODER = json.JSONDecoder(object_hook=_untag)


def _from_text(decoder: json.JSONDecoder, data: str) -> Any:
    # raw_decode skips the whitespace regexes of decode(); text we wrote has no padding, so
    # anything else (padding, garbage) goes through the full decode(), which reports errors.
    try:
        obj, end = decoder.raw_decode(data)
    except ValueError:
        end = -1
    return obj if end == len(data) else decoder.decode(data)


class JsonSerializer:
    """JSON text, with tags for tuples, sets, non-str keys, dates, UUIDs, Decimals and bytes."""

    name = "json"
    content_type = "application/json"

    def dumps(self, obj: Any) -> str:
        """Encode ``obj``; raise :class:`SerializationError` naming any unsupported type."""
        try:
            if _is_plain(obj):
                try:
                    return _to_text(obj)
                except ValueError:
                    pass  # NaN or infinity: the tagging walk writes those as tags
            return _to_text(_encode(obj))
        except RecursionError as exc:
            raise SerializationError(
                f"Object of type {type(obj).__qualname__} is nested too deeply or contains "
                "itself; the 'json' serializer cannot encode it."
            ) from exc
        except ValueError as exc:  # e.g. an int past sys.get_int_max_str_digits()
            raise SerializationError(
                f"Object of type {type(obj).__qualname__} cannot be serialized with the "
                f"'json' serializer: {exc}"
            ) from exc

    def loads(self, data: str) -> Any:
        """Decode text written by :meth:`dumps`; raise :class:`SerializationError` if invalid."""
        try:
            if _TAG_MARK in data:
                return _from_text(_TAGGED_DECODER, data)
            return _from_text(_PLAIN_DECODER, data)
        except (ValueError, TypeError, RecursionError) as exc:
            raise SerializationError(
                f"The 'json' serializer cannot decode the data ({exc}); "
                f"data starts with {str(data)[:80]!r}"
            ) from exc

    def __repr__(self) -> str:
        return "JsonSerializer()"
