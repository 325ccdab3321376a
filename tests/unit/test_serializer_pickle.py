"""The opt-in pickle and cloudpickle serializers."""

from __future__ import annotations

import base64
import pickle
import socket
from collections.abc import Callable
from typing import Any

import pytest

from pynenc.exceptions import SerializationError
from pynenc.serializer import CloudpickleSerializer, PickleSerializer


class Account:
    """A module-level class: picklable by reference."""

    def __init__(self, owner: str, balance: int) -> None:
        self.owner = owner
        self.balance = balance

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Account) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


SERIALIZERS = [PickleSerializer(), CloudpickleSerializer()]


@pytest.fixture(params=SERIALIZERS, ids=lambda s: s.name)
def ser(request: pytest.FixtureRequest) -> PickleSerializer:
    serializer: PickleSerializer = request.param
    return serializer


@pytest.mark.parametrize(
    "value",
    [None, (1, (2,)), {(1, 2): {3}}, Account("ana", 10), b"\x00", [Account("bo", -1)]],
    ids=["none", "tuple", "odd keys", "object", "bytes", "objects in list"],
)
def test_round_trip(ser: PickleSerializer, value: Any) -> None:
    text = ser.dumps(value)
    assert text.isascii()
    assert ser.loads(text) == value


def test_output_is_base64_of_a_pickle(ser: PickleSerializer) -> None:
    assert pickle.loads(base64.b64decode(ser.dumps([1, 2]))) == [1, 2]


def test_cloudpickle_round_trips_a_lambda() -> None:
    ser = CloudpickleSerializer()
    offset = 5
    func: Callable[[int], int] = ser.loads(ser.dumps(lambda x: x + offset))
    assert func(1) == 6


def test_cloudpickle_output_loads_with_plain_pickle() -> None:
    text = CloudpickleSerializer().dumps(lambda: "hi")
    assert PickleSerializer().loads(text)() == "hi"


def test_pickle_refuses_a_lambda_and_names_the_type() -> None:
    with pytest.raises(SerializationError, match="function cannot be serialized with the 'pickle'"):
        PickleSerializer().dumps(lambda: None)


def test_unpicklable_object_names_the_type(ser: PickleSerializer) -> None:
    with socket.socket() as sock, pytest.raises(SerializationError) as info:
        ser.dumps(sock)
    assert "socket" in str(info.value) and repr(ser.name) in str(info.value)


def test_a_failing_reduce_is_a_serialization_error(ser: PickleSerializer) -> None:
    class Broken:
        def __reduce__(self) -> Any:
            raise RuntimeError("no way")

    with pytest.raises(SerializationError, match="no way"):
        ser.dumps(Broken())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not base64 !!", "not base64"),
        ("", "EOFError"),
        (base64.b64encode(b"garbage").decode(), "UnpicklingError"),
        (base64.b64encode(pickle.dumps(1)[:-2]).decode(), "Error"),
    ],
    ids=["bad base64", "empty", "not a pickle", "truncated"],
)
def test_garbage_is_a_serialization_error(ser: PickleSerializer, data: str, reason: str) -> None:
    with pytest.raises(SerializationError) as info:
        ser.loads(data)
    message = str(info.value)
    assert f"The {ser.name!r} serializer cannot decode" in message
    assert reason in message and repr(data[:80]) in message


def test_names_and_content_types() -> None:
    assert (PickleSerializer.name, PickleSerializer.content_type) == (
        "pickle",
        "application/x-python-pickle",
    )
    assert (CloudpickleSerializer.name, CloudpickleSerializer.content_type) == (
        "cloudpickle",
        "application/x-python-cloudpickle",
    )
