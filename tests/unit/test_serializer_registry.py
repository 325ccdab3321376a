"""The serializer registry: lookup by name, caching, "did you mean", third-party serializers."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from types import SimpleNamespace
from typing import Any

import pytest

import pynenc.serializer
from pynenc.exceptions import ConfigError
from pynenc.serializer import (
    CloudpickleSerializer,
    JsonSerializer,
    PickleSerializer,
    Serializer,
    base,
    get_serializer,
    register_serializer,
    serializer_names,
)


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # the built-in serializers only: not those a loaded layer registered (celery-json)
    built_in = {name: base._factories[name] for name in ("json", "pickle", "cloudpickle")}
    monkeypatch.setattr(base, "_factories", built_in)
    monkeypatch.setattr(base, "_instances", {})
    yield


class Reverse:
    """A toy third-party serializer."""

    name = "reverse"
    content_type = "text/x-reversed"

    def dumps(self, obj: Any) -> str:
        return str(obj)[::-1]

    def loads(self, data: str) -> Any:
        return data[::-1]


@pytest.mark.parametrize(
    ("name", "cls", "content_type"),
    [
        ("json", JsonSerializer, "application/json"),
        ("pickle", PickleSerializer, "application/x-python-pickle"),
        ("cloudpickle", CloudpickleSerializer, "application/x-python-cloudpickle"),
    ],
)
def test_builtin_serializers(name: str, cls: type, content_type: str) -> None:
    serializer = get_serializer(name)
    assert type(serializer) is cls and isinstance(serializer, Serializer)
    assert serializer.name == name and serializer.content_type == content_type
    assert get_serializer(name) is serializer


def test_unknown_name_lists_valid_names_and_suggests() -> None:
    with pytest.raises(ConfigError) as info:
        get_serializer("jsno")
    assert str(info.value).startswith(
        "Unknown serializer 'jsno'. Registered serializers: cloudpickle, json, pickle. "
        "Did you mean 'json'? Set the option serializer (PYNENC__SERIALIZER)"
    )
    assert "register_serializer" in str(info.value)


def test_unknown_name_without_a_close_match() -> None:
    with pytest.raises(ConfigError, match="Unknown serializer 'msgpack'") as info:
        get_serializer("msgpack")
    assert "Did you mean" not in str(info.value)


def test_register_a_third_party_serializer() -> None:
    register_serializer("reverse", Reverse)
    serializer = get_serializer("reverse")
    assert isinstance(serializer, Reverse) and get_serializer("reverse") is serializer
    assert serializer.loads(serializer.dumps("abc")) == "abc"
    assert "reverse" in serializer_names()


def test_registering_again_replaces_the_cached_instance() -> None:
    register_serializer("reverse", Reverse)
    first = get_serializer("reverse")
    register_serializer("reverse", Reverse)
    assert get_serializer("reverse") is not first


def test_factory_returning_something_else_is_a_config_error() -> None:
    register_serializer("broken", lambda: object())  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="lacks name, content_type, dumps or loads"):
        get_serializer("broken")


def test_failing_factory_is_a_config_error() -> None:
    def factory() -> Serializer:
        raise RuntimeError("missing dependency")

    register_serializer("failing", factory)
    with pytest.raises(ConfigError, match="'failing' failed: missing dependency"):
        get_serializer("failing")


def test_empty_name_is_refused() -> None:
    with pytest.raises(ConfigError):
        register_serializer("", Reverse)


def test_public_api_is_exactly_all() -> None:
    public = {
        name
        for name, value in vars(pynenc.serializer).items()
        if not name.startswith("_") and type(value).__name__ != "module"
    }
    assert set(pynenc.serializer.__all__) == public
    assert len(pynenc.serializer.__all__) == len(set(pynenc.serializer.__all__))


def test_serializer_from_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    advertised = metadata.EntryPoints(
        [
            metadata.EntryPoint("reverse", f"{__name__}:Reverse", base.ENTRY_POINT_GROUP),
            metadata.EntryPoint("gone", "no_such_module_xyz:Factory", base.ENTRY_POINT_GROUP),
        ]
    )

    def entry_points(**selection: str) -> metadata.EntryPoints:
        return advertised.select(**selection)

    monkeypatch.setattr(base, "metadata", SimpleNamespace(entry_points=entry_points))
    assert isinstance(get_serializer("reverse"), Reverse)
    assert serializer_names() == ["cloudpickle", "gone", "json", "pickle", "reverse"]
    with pytest.raises(ConfigError, match="'gone' from entry point 'no_such_module_xyz:Factory'"):
        get_serializer("gone")
