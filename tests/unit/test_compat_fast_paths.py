"""The Celery layer's per-call shortcuts give what the long way gives.

``celery-json`` builds kombu's encoder once and decodes text without a tagged object
without kombu's object hook; ``conf_reads.read`` reads a setting without Celery's
``ConfigurationView`` lookup. Each is checked against the code it stands for.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from kombu.utils import json as kombu_json

from pynenc.exceptions import SerializationError
from pynenc_celery_compat import Celery, conf_reads
from pynenc_celery_compat.serialization import CeleryJsonSerializer

VALUES: list[Any] = [
    0,
    -7,
    10**30,
    None,
    True,
    False,
    1.5,
    "plain",
    "héllo ☃",
    "a \\u005f escape, written out",
    [1, (2, 3), {"k": None}],
    {"a": {"__type__": "not a tag", "x": 1}},
    {"__type__": "bytes", "__value__": "x"},  # a dict shaped like kombu's tag
    datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
    datetime.date(2024, 5, 1),
    datetime.time(12, 30),
    decimal.Decimal("1.20"),
    uuid.UUID(int=7),
    b"bytes",
    b"\xff\x00",
    {"when": [datetime.date(2020, 1, 2)], "n": 3},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_celery_json_is_kombus_json(value: Any) -> None:
    serializer = CeleryJsonSerializer()
    text = serializer.dumps(value)
    assert text == kombu_json.dumps(value)
    decoded = serializer.loads(text)
    expected = kombu_json.loads(text)
    assert decoded == expected
    assert type(decoded) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        '{"\\u005f_type__": "bytes", "__value__": "eA=="}',  # the tag key spelled escaped
        '{"__type__": "base64", "__value__": "/wA="}',
        '[{"__type__": "uuid", "__value__": {"hex": "00000000000000000000000000000007"}}]',
    ],
)
def test_tagged_text_decodes_as_kombu_decodes_it(text: str) -> None:
    assert CeleryJsonSerializer().loads(text) == kombu_json.loads(text)


def test_bytes_text_decodes_as_kombu_decodes_it() -> None:
    assert CeleryJsonSerializer().loads(b'{"a": 1}') == {"a": 1}  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [{1, 2}, object(), 10**5000], ids=["set", "object", "huge"])
def test_what_kombu_refuses_is_a_serialization_error(value: Any) -> None:
    with pytest.raises(SerializationError, match="cannot be sent as JSON"):
        CeleryJsonSerializer().dumps(value)


def test_garbage_text_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="not Celery JSON text"):
        CeleryJsonSerializer().loads("{not json")


def test_kombu_functions_replaced_by_the_application_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kombu_json, "dumps", lambda obj: '"mine"')
    monkeypatch.setattr(kombu_json, "loads", lambda data: "read by mine")
    serializer = CeleryJsonSerializer()
    assert serializer.dumps(1) == '"mine"'
    assert serializer.loads("1") == "read by mine"


def test_read_follows_every_way_a_setting_changes() -> None:
    app = Celery("reads", broker="memory://", set_as_current=False)
    assert conf_reads.read(app, "task_always_eager") is False  # Celery's default
    app.conf.task_always_eager = True
    assert conf_reads.read(app, "task_always_eager") is True
    app.conf.update(task_always_eager=False)
    assert conf_reads.read(app, "task_always_eager") is False

    class Settings:
        CELERY_TASK_ALWAYS_EAGER = True

    app.config_from_object(Settings, namespace="CELERY")  # a new configuration object
    assert conf_reads.read(app, "task_always_eager") is app.conf.task_always_eager is True
    assert conf_reads.read(app, "no_such_setting") is None


def test_read_asks_another_kind_of_configuration_with_get() -> None:
    class Plain:
        def __init__(self) -> None:
            self.conf = {"task_always_eager": "yes"}

    assert conf_reads.read(Plain(), "task_always_eager") == "yes"


def _plain(a: int, b: int = 2) -> int:
    return a + b


def _positional_only(a: int, /, b: int) -> int:
    return a + b


def _star(a: int, *rest: int) -> int:
    return a


def _keyword_only(a: int, *, b: int = 0) -> int:
    return a + b


def _bound(self: Any, a: int, b: int) -> int:
    return a + b


@pytest.mark.parametrize(
    ("function", "args", "bind"),
    [
        (_plain, (1, 5), False),
        (_plain, (1,), False),  # a default left out: bind's way
        (_positional_only, (1, 2), False),
        (_star, (1, 2, 3), False),
        (_keyword_only, (1,), False),
        (_bound, (1, 2), True),  # bind=True: the task is not an argument
    ],
    ids=lambda value: getattr(value, "__name__", repr(value)),
)
def test_a_positional_call_binds_as_signature_bind_does(
    function: Any, args: tuple[Any, ...], bind: bool
) -> None:
    from pynenc_celery_compat.message import call_arguments

    app = Celery("binds", broker="memory://", set_as_current=False)
    task = app.task(name=f"binds.{function.__name__}", shared=False, bind=bind)(function)
    adapter = task.pynenc_task_for(app.pynenc)
    expected = call_arguments(adapter.signature, args, {})
    found = adapter.call_arguments(args, {})
    assert found.kwargs == expected.kwargs
    assert list(found.kwargs) == list(expected.kwargs)  # the same order


def test_a_positional_call_that_does_not_fit_is_still_refused() -> None:
    app = Celery("binds", broker="memory://", set_as_current=False)
    task = app.task(name="binds.refused", shared=False)(_positional_only)
    with pytest.raises(TypeError):
        task.pynenc_task_for(app.pynenc).call_arguments((1, 2, 3), {})
