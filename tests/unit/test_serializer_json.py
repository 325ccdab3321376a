"""The json serializer: exact round-trips, strict JSON output, clear errors."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import threading
import uuid
from collections import OrderedDict, namedtuple
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pynenc.exceptions import SerializationError
from pynenc.serializer import JsonSerializer

SER = JsonSerializer()
PLUS_0530 = timezone(timedelta(hours=5, minutes=30))
PARIS = ZoneInfo("Europe/Paris")


def same(a: Any, b: Any) -> bool:
    """Equal, with the same type at every level (and dict keys in the same order)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(map(type, a)) == list(map(type, b)) and all(
            ka == kb and same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, datetime | time):  # == ignores the zone of a time and of equal instants
        return bool(a == b and a.utcoffset() == b.utcoffset() and a.tzinfo == b.tzinfo)
    return bool(a == b)


ROUND_TRIPS: dict[str, Any] = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "negative": -5,
    "big int": 2**80,
    "float": 1.5,
    "negative zero": -0.0,
    "inf": math.inf,
    "minus inf": -math.inf,
    "empty str": "",
    "unicode": "héllo ✓ \u2028 \x00",
    "tag-looking str": "__t",
    "empty list": [],
    "list": [1, "a", None, 2.5, True],
    "empty dict": {},
    "dict": {"a": 1, "b": [1, 2]},
    "empty tuple": (),
    "tuple": (1, "a"),
    "nested tuple": (1, (2, (3,)), [4, (5,)]),
    "set": {3, 1, 2},
    "empty set": set(),
    "mixed set": {1, "a", (2, 3)},
    "frozenset": frozenset({"a", "b"}),
    "int keys": {1: "a", 2: "b"},
    "tuple keys": {(1, 2): "x", (3, "y"): "z"},
    "odd keys": {None: 1, True: 2, 1.5: 3, frozenset({1}): 4, b"k": 5},
    "mixed keys keep order": {"a": 1, 2: "b", "c": 3},
    "naive datetime": datetime(2024, 5, 1, 12, 30, 15, 123456),
    "utc datetime": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    "offset datetime": datetime(2024, 5, 1, 12, 30, tzinfo=PLUS_0530),
    "zoneinfo datetime": datetime(2024, 7, 1, 9, 0, tzinfo=PARIS),
    "zoneinfo datetime in winter": datetime(2024, 1, 1, 9, 0, tzinfo=PARIS),
    "date": date(1999, 12, 31),
    "time": time(23, 59, 58, 1),
    "aware time": time(8, 15, tzinfo=PLUS_0530),
    "zoneinfo time": time(8, 15, tzinfo=PARIS),
    "timedelta": timedelta(days=-1, seconds=5, microseconds=7),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": Decimal("1.10"),
    "decimal negative zero": Decimal("-0"),
    "decimal inf": Decimal("-Infinity"),
    "bytes": b"\x00\xffabc",
    "empty bytes": b"",
    "dict with tag key": {"__t": "tuple", "v": [1, 2]},
    "dict with only tag key": {"__t": 1},
    "tag key deep inside": [{"k": {"__t": "dt", "v": "2024-01-01"}}],
    "tuple in dict in list": [{"a": (1, [2, (3,)])}],
    "tuple keys in nested dict": {"k": {(1, 2): [{"__t": "x"}, (None,)]}},
    "dict with tuple and datetime": {"t": (1, 2), "when": datetime(2024, 1, 1, tzinfo=PARIS)},
    "sets in list": [{1, 2}, frozenset(), {"x"}],
    "set of tuples": {(1, 2), (3, 4)},
}


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trip_is_exact(value: Any) -> None:
    text = SER.dumps(value)
    assert isinstance(text, str)
    assert same(SER.loads(text), value)


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {name}")


@pytest.mark.parametrize("value", [*ROUND_TRIPS.values(), math.nan], ids=[*ROUND_TRIPS, "nan"])
def test_output_is_strict_json(value: Any) -> None:
    json.loads(SER.dumps(value), parse_constant=_reject_constant)


def test_nan_round_trips() -> None:
    out = SER.loads(SER.dumps([math.nan, {"x": math.nan}]))
    assert math.isnan(out[0]) and math.isnan(out[1]["x"])


def test_type_preservation_in_detail() -> None:
    out = SER.loads(SER.dumps({"args": (1, 2), "by_id": {7: "seven"}}))
    assert type(out["args"]) is tuple
    assert list(out["by_id"]) == [7] and type(next(iter(out["by_id"]))) is int


def test_aware_datetime_keeps_offset() -> None:
    out = SER.loads(SER.dumps(datetime(2024, 5, 1, 12, 30, tzinfo=PLUS_0530)))
    assert out.utcoffset() == timedelta(hours=5, minutes=30)
    assert out.hour == 12


def test_zoneinfo_datetime_keeps_its_zone() -> None:
    out = SER.loads(SER.dumps(datetime(2024, 3, 30, 12, 0, tzinfo=PARIS)))
    assert out.tzinfo is PARIS
    # A fixed offset would get this wrong: DST starts overnight in Paris.
    assert (out + timedelta(days=1)).utcoffset() == timedelta(hours=2)


def test_plain_json_stays_plain() -> None:
    assert SER.dumps({"x": 1, "y": "abc"}) == '{"x":1,"y":"abc"}'
    assert SER.dumps([1, 2.5, None, True]) == "[1,2.5,null,true]"


def test_tagged_values_are_compact() -> None:
    assert SER.dumps((1, 2)) == '{"__t":"tuple","v":[1,2]}'


def test_equal_sets_give_equal_text() -> None:
    assert SER.dumps({"b", "a", "c"}) == SER.dumps({"c", "b", "a"})


def test_padded_json_is_accepted() -> None:
    assert SER.loads('  {"a": [1, 2]}\n') == {"a": [1, 2]}


@dataclasses.dataclass
class Point:
    x: int


class Color(enum.IntEnum):
    RED = 1


Pair = namedtuple("Pair", "a b")


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (object(), "object"),
        (Point(1), "test_serializer_json.Point"),
        (len, "builtin_function_or_method"),
        (lambda: None, "function"),
        (threading.Lock(), "_thread.lock"),
        (bytearray(b"x"), "bytearray"),
        (1j, "complex"),
        ([1, {"deep": (2, object())}], "object"),
        ({object(): 1}, "object"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_unsupported_types_are_named(value: Any, type_name: str) -> None:
    with pytest.raises(SerializationError, match="'json' serializer") as info:
        SER.dumps(value)
    assert type_name in str(info.value)


@pytest.mark.parametrize(
    ("value", "base"),
    [(Color.RED, "int"), (Pair(1, 2), "tuple"), (OrderedDict(a=1), "dict")],
    ids=["IntEnum", "namedtuple", "OrderedDict"],
)
def test_subclasses_are_refused_not_degraded(value: Any, base: str) -> None:
    with pytest.raises(SerializationError, match=f"subclass of {base}"):
        SER.dumps(value)


def test_int_too_long_for_json_text_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match=r"type list cannot be serialized.*4300 digits"):
        SER.dumps([10**5000])


def test_circular_structure_is_an_error() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(SerializationError, match="contains itself"):
        SER.dumps(loop)


def test_circular_structure_with_tags_is_an_error() -> None:
    loop: list[Any] = [(1,)]
    loop.append(loop)
    with pytest.raises(SerializationError, match="contains itself"):
        SER.dumps(loop)


GARBAGE = {
    "not json": "{not json",
    "empty": "",
    "trailing data": "[1] [2]",
    "unknown tag": '{"__t":"nope","v":1}',
    "tag without value": '{"__t":"tuple"}',
    "tag with extra key": '{"__t":"tuple","v":[1],"x":2}',
    "tag not a string": '{"__t":1,"v":[1]}',
    "bad base64": '{"__t":"bytes","v":"!!!"}',
    "bad datetime": '{"__t":"dt","v":"yesterday"}',
    "bad zone": '{"__t":"dt","v":["2024-01-01T00:00:00+00:00","No/Such_Zone"]}',
    "bad decimal": '{"__t":"dec","v":"one"}',
    "bad uuid": '{"__t":"uuid","v":42}',
    "tuple of a string": '{"__t":"tuple","v":"abc"}',
    "unhashable key": '{"__t":"map","v":[[[1],2]]}',
    "bad timedelta": '{"__t":"td","v":"x"}',
    "bad float": '{"__t":"float","v":"1.5"}',
}


@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_is_a_serialization_error(data: str) -> None:
    with pytest.raises(SerializationError, match="'json' serializer cannot decode") as info:
        SER.loads(data)
    assert repr(data[:80]) in str(info.value)


def test_garbage_message_shows_only_the_start_of_the_data() -> None:
    data = "{" + "x" * 500
    with pytest.raises(SerializationError) as info:
        SER.loads(data)
    assert repr(data[:80]) in str(info.value)
    assert "x" * 81 not in str(info.value)


def test_non_text_input_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError):
        SER.loads(None)  # type: ignore[arg-type]
