"""The ``serializer`` option names any registered serializer, checked when first used."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import Pynenc
from pynenc.exceptions import ConfigError
from pynenc.serializer import JsonSerializer, base, register_serializer
from tests.apps import core


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # the built-in serializers only: not those a loaded layer registered (celery-json)
    built_in = {name: base._factories[name] for name in ("json", "pickle", "cloudpickle")}
    monkeypatch.setattr(base, "_factories", built_in)
    monkeypatch.setattr(base, "_instances", {})
    yield


class TaggedJson:
    """A third-party serializer: JSON behind a tag, so its use is visible."""

    name = "tagged"
    content_type = "application/x-tagged-json"

    def __init__(self) -> None:
        self.json = JsonSerializer()
        self.encoded = 0

    def dumps(self, obj: Any) -> str:
        self.encoded += 1
        return "tagged:" + self.json.dumps(obj)

    def loads(self, data: str) -> Any:
        assert data.startswith("tagged:"), data
        return self.json.loads(data.removeprefix("tagged:"))


def test_a_registered_serializer_is_selected_and_used() -> None:
    register_serializer("tagged", TaggedJson)
    app = Pynenc(config_values={"app_id": "ser-option", "serializer": "tagged"})
    task = app.task(core.add.func)
    with app.running_in_background():
        assert task(2, 3).get_result(timeout=30) == 5
    serializer = app.serializer
    assert isinstance(serializer, TaggedJson) and serializer.encoded >= 3  # x, y, result


def test_a_serializer_registered_after_the_config_is_read() -> None:
    app = Pynenc(app_id="ser-option")
    app.conf.serializer = "tagged"  # not registered yet: accepted, checked on use
    with pytest.raises(ConfigError) as info:
        _ = app.serializer
    message = str(info.value)
    assert "Unknown serializer 'tagged'" in message
    assert "Registered serializers: cloudpickle, json, pickle" in message
    assert "register_serializer" in message and "(serializer 'tagged' from assignment)" in message
    register_serializer("tagged", TaggedJson)
    assert isinstance(app.serializer, TaggedJson)


def test_a_call_with_an_unknown_serializer_registers_nothing() -> None:
    app = Pynenc(config_values={"app_id": "ser-option-nothing", "serializer": "nosuch"})
    task = app.task(core.add.func)
    with pytest.raises(ConfigError, match=r"Unknown serializer 'nosuch'.*from config_values"):
        task(1, 2)
    assert app.state_backend.find() == []


def test_a_runner_refuses_to_start_with_an_unknown_serializer() -> None:
    app = Pynenc(config_values={"app_id": "ser-option", "serializer": "nosuch"})
    with pytest.raises(ConfigError, match="Unknown serializer 'nosuch'"):
        app.runner.preflight()


@pytest.mark.parametrize(("raw", "stored"), [("JSON", "json"), (" Pickle ", "pickle")])
def test_builtin_names_in_any_case(raw: str, stored: str) -> None:
    conf = Pynenc(config_values={"serializer": raw}).conf
    assert conf.serializer == stored


def test_an_empty_name_is_refused_with_the_expected_form() -> None:
    with pytest.raises(ConfigError, match="serializer must be the name of a serializer"):
        Pynenc(config_values={"serializer": ""})
