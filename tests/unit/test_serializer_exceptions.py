"""Exceptions crossing processes: plain-JSON payloads, same class back, RemoteError otherwise."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import pytest

from pynenc.exceptions import RemoteError, TaskNotFoundError
from pynenc.serializer import exception_to_payload, payload_to_exception


class CustomError(Exception):
    """Rebuilt from its args like any plain exception."""


class Outer:
    class InnerError(Exception):
        """A nested class: its type path has a dotted qualname."""


class NeedsCode(Exception):
    """Needs two constructor arguments but keeps only a message in ``args``."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


def raise_in_worker(exc: BaseException) -> NoReturn:
    raise exc


def captured(exc: BaseException) -> dict[str, Any]:
    """The payload of ``exc`` after it was really raised (so it has a traceback)."""
    try:
        raise_in_worker(exc)
    except BaseException as raised:
        return exception_to_payload(raised)


def travel(exc: BaseException) -> BaseException:
    """Through a payload and plain JSON text, as between two processes."""
    return payload_to_exception(json.loads(json.dumps(captured(exc))))


def remote_note(exc: BaseException) -> str:
    notes: list[str] = getattr(exc, "__notes__", [])
    notes = [note for note in notes if note.startswith("Remote traceback:")]
    assert len(notes) == 1
    return notes[0]


def test_payload_is_plain_json() -> None:
    payload = captured(ValueError("bad", 3, (1, 2), object()))
    assert json.loads(json.dumps(payload)) == payload
    assert set(payload) == {"type", "message", "args", "traceback"}
    assert payload["type"] == "builtins.ValueError"
    assert all(isinstance(arg, str) for arg in payload["args"])
    assert "raise_in_worker" in payload["traceback"]


def test_builtin_value_error_keeps_class_and_args() -> None:
    exc = travel(ValueError("bad value", 3, (1, 2)))
    assert type(exc) is ValueError
    assert exc.args == ("bad value", 3, (1, 2))
    assert type(exc.args[2]) is tuple


def test_key_error_keeps_its_key() -> None:
    exc = travel(KeyError("missing"))
    assert type(exc) is KeyError and exc.args == ("missing",) and str(exc) == "'missing'"


def test_custom_exception_from_an_importable_module() -> None:
    exc = travel(CustomError("custom", {"id": 1}))
    assert type(exc) is CustomError and exc.args == ("custom", {"id": 1})


def test_nested_exception_class() -> None:
    exc = travel(Outer.InnerError("inner"))
    assert type(exc) is Outer.InnerError and exc.args == ("inner",)


def test_pynenc_exception_with_several_bases() -> None:
    exc = travel(TaskNotFoundError("no task x"))
    assert type(exc) is TaskNotFoundError and isinstance(exc, ValueError)


def test_unserializable_arg_is_kept_as_repr() -> None:
    marker = object()
    exc = travel(ValueError("with object", marker))
    assert type(exc) is ValueError
    assert exc.args == ("with object", repr(marker))


def test_remote_traceback_is_added_as_a_note() -> None:
    exc = travel(ValueError("where?"))
    note = remote_note(exc)
    assert "raise_in_worker" in note and "ValueError: where?" in note


def test_constructor_needing_more_args_falls_back_to_remote_error() -> None:
    exc = travel(NeedsCode(404, "not found"))
    assert type(exc) is RemoteError
    assert exc.type_path.endswith("test_serializer_exceptions.NeedsCode")
    assert exc.message == "404: not found" and exc.remote_args == ("404: not found",)
    assert "raise_in_worker" in exc.remote_traceback
    assert "raise_in_worker" in remote_note(exc)


def test_local_class_falls_back_to_remote_error() -> None:
    class LocalError(Exception):
        pass

    exc = travel(LocalError("local"))
    assert type(exc) is RemoteError and "<locals>.LocalError" in exc.type_path


def test_non_importable_type_path() -> None:
    payload = {
        "type": "no_such_package_xyz.module.GoneError",
        "message": "it went away",
        "args": ['"it went away"'],
        "traceback": "Traceback (most recent call last):\n  ...\nGoneError: it went away\n",
    }
    exc = payload_to_exception(payload)
    assert isinstance(exc, RemoteError)
    assert exc.type_path == "no_such_package_xyz.module.GoneError"
    assert exc.message == "it went away" and exc.remote_args == ("it went away",)
    assert exc.remote_traceback == payload["traceback"]
    assert str(exc) == "no_such_package_xyz.module.GoneError: it went away"
    assert "GoneError: it went away" in remote_note(exc)
    assert "no_such_package_xyz" not in sys.modules


@pytest.mark.parametrize(
    "type_path",
    [
        "os.getcwd",  # importable, but a function
        "builtins.object",  # a class, but not an exception
        "builtins.SystemExit",  # would stop the caller instead of reporting the failure
        "builtins.KeyboardInterrupt",
        "asyncio.CancelledError",
        "builtins.NoSuchError",
        ".relative.Error",
        "ValueError",
        "os.path.__class__",
        "",
    ],
)
def test_paths_that_do_not_name_a_rebuildable_exception(type_path: str) -> None:
    exc = payload_to_exception({"type": type_path, "message": "m", "args": [], "traceback": ""})
    assert type(exc) is RemoteError and exc.type_path == type_path
    assert remote_note(exc).startswith("Remote traceback:")


def test_system_exit_in_a_task_is_not_raised_as_system_exit() -> None:
    exc = travel(SystemExit(3))
    assert type(exc) is RemoteError and exc.type_path == "builtins.SystemExit"


def test_damaged_payload_still_gives_an_exception() -> None:
    exc = payload_to_exception({"type": "builtins.ValueError", "args": ["{not json", 5]})
    assert type(exc) is ValueError and exc.args == ("{not json", 5)
    assert payload_to_exception({}).__class__ is RemoteError


def test_exception_with_broken_str() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    payload = captured(Unprintable())
    assert "failed" in payload["message"]
    json.dumps(payload)
