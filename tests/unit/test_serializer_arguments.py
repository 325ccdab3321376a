"""Arguments and results: one encoding per argument, errors naming the culprit and the fix."""

from __future__ import annotations

import socket
import threading
from datetime import date
from typing import Any

import pytest

from pynenc.exceptions import SerializationError
from pynenc.serializer import (
    CloudpickleSerializer,
    JsonSerializer,
    PickleSerializer,
    deserialize_arguments,
    deserialize_result,
    serialize_arguments,
    serialize_result,
)

JSON = JsonSerializer()


def test_each_argument_is_encoded_on_its_own() -> None:
    encoded = serialize_arguments(JSON, "app.tasks.add", {"x": 1, "when": date(2024, 1, 2)})
    assert encoded == {"x": "1", "when": JSON.dumps(date(2024, 1, 2))}
    assert deserialize_arguments(JSON, encoded) == {"x": 1, "when": date(2024, 1, 2)}


def test_shared_arguments_merge_by_dict_union() -> None:
    common = serialize_arguments(JSON, "t", {"config": {"retries": (1, 2)}})
    own = serialize_arguments(JSON, "t", {"item": 7})
    merged = common | own
    assert merged == serialize_arguments(JSON, "t", {"config": {"retries": (1, 2)}, "item": 7})
    assert deserialize_arguments(JSON, merged) == {"config": {"retries": (1, 2)}, "item": 7}


def test_json_argument_error_names_argument_task_type_and_fix() -> None:
    with socket.socket() as conn, pytest.raises(SerializationError) as info:
        serialize_arguments(JSON, "app.tasks.fetch", {"url": "x", "conn": conn})
    assert str(info.value).startswith(
        "Argument 'conn' of task 'app.tasks.fetch' (type socket) cannot be serialized with the "
        "'json' serializer. Pass a JSON-compatible value, or set the serializer option to "
        "'pickle' or 'cloudpickle' (PYNENC__SERIALIZER=cloudpickle or "
        'app.conf.serializer = "cloudpickle"; for one task only, '
        '@app.task(serializer="cloudpickle") with it in the app\'s accept_serializers).'
    )
    assert isinstance(info.value.__cause__, SerializationError)


def test_nested_culprit_is_named_in_the_cause() -> None:
    with pytest.raises(SerializationError) as info:
        serialize_arguments(JSON, "t", {"items": [1, {"lock": threading.Lock()}]})
    message = str(info.value)
    assert "Argument 'items' of task 't' (type list)" in message
    assert "_thread.lock" in message


def test_pickle_error_suggests_cloudpickle() -> None:
    with pytest.raises(SerializationError) as info:
        serialize_arguments(PickleSerializer(), "t", {"fn": lambda: 1})
    message = str(info.value)
    assert "Argument 'fn' of task 't' (type function)" in message
    assert "'pickle' serializer" in message and "PYNENC__SERIALIZER=cloudpickle" in message


def test_cloudpickle_error_explains_resources() -> None:
    with pytest.raises(SerializationError, match="inside the task"):
        serialize_arguments(CloudpickleSerializer(), "t", {"lock": threading.Lock()})


class Picky:
    """A third-party serializer that raises its own exception type."""

    name = "picky"
    content_type = "application/x-picky"

    def dumps(self, obj: Any) -> str:
        raise TypeError("picky refuses")

    def loads(self, data: str) -> Any:
        raise LookupError("picky cannot read")


def test_third_party_errors_are_explained_too() -> None:
    with pytest.raises(SerializationError) as info:
        serialize_arguments(Picky(), "t", {"a": 1})
    message = str(info.value)
    assert "Argument 'a' of task 't' (type int)" in message and "'picky'" in message
    assert "picky refuses" in message


def test_undecodable_argument_is_named() -> None:
    with pytest.raises(SerializationError, match="Argument 'y' cannot be decoded with the 'json'"):
        deserialize_arguments(JSON, {"x": "1", "y": "{oops"})


def test_result_round_trip() -> None:
    value = {"total": 3, "parts": (1, 2)}
    assert deserialize_result(JSON, serialize_result(JSON, "t", value)) == value


def test_result_error_names_the_return_value() -> None:
    with pytest.raises(SerializationError) as info:
        serialize_result(JSON, "app.tasks.open", threading.Lock())
    assert str(info.value).startswith(
        "The return value of task 'app.tasks.open' (type lock) cannot be serialized with the "
        "'json' serializer. Pass a JSON-compatible value"
    )


def test_undecodable_result() -> None:
    with pytest.raises(SerializationError, match="result cannot be decoded with the 'json'"):
        deserialize_result(JSON, "]")
