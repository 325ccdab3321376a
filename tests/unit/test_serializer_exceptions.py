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


class WeirdError(Exception):
    """A positional argument and a keyword-only one; ``args`` holds neither as given."""

    def __init__(self, code: int, *, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class KeywordOnlyError(Exception):
    """Keyword-only arguments only, with defaults: ``cls(*args)`` would lose the message."""

    def __init__(self, *, reason: str = "", retry_in: float = 0.0) -> None:
        super().__init__()
        self.reason = reason
        self.retry_in = retry_in

    def __str__(self) -> str:
        return f"{self.reason} (retry in {self.retry_in} s)"


class CustomStrError(Exception):
    """A ``__str__`` built from attributes, not from ``args``."""

    def __init__(self, items: list[int], limit: int) -> None:
        super().__init__(items, limit)
        self.items = items
        self.limit = limit

    def __str__(self) -> str:
        return f"{len(self.items)} items over the limit of {self.limit}"


class HoldsAnObjectError(Exception):
    """An attribute that plain JSON cannot carry."""

    def __init__(self, message: str, *, handle: object) -> None:
        super().__init__(message)
        self.handle = handle
        self.count = 3


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
    assert set(payload) == {"type", "message", "args", "attrs", "traceback"}
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


def test_constructor_needing_more_args_is_rebuilt_with_its_attributes() -> None:
    exc = travel(NeedsCode(404, "not found"))
    assert type(exc) is NeedsCode
    assert str(exc) == "404: not found" and exc.args == ("404: not found",)
    assert exc.code == 404
    assert "raise_in_worker" in remote_note(exc)


def test_keyword_only_constructor_is_rebuilt() -> None:
    exc = travel(WeirdError(7, detail="bad input"))
    assert type(exc) is WeirdError
    assert (exc.code, exc.detail) == (7, "bad input")
    assert str(exc) == "7: bad input" and exc.args == ("7: bad input",)


def test_keyword_only_arguments_only_keep_the_message() -> None:
    exc = travel(KeywordOnlyError(reason="quota exceeded", retry_in=2.5))
    assert type(exc) is KeywordOnlyError
    assert str(exc) == "quota exceeded (retry in 2.5 s)"
    assert (exc.reason, exc.retry_in) == ("quota exceeded", 2.5)


def test_custom_str_matches_the_original() -> None:
    exc = travel(CustomStrError([1, 2, 3], 2))
    assert type(exc) is CustomStrError
    assert str(exc) == "3 items over the limit of 2"
    assert exc.items == [1, 2, 3] and exc.limit == 2


def test_attributes_that_json_cannot_carry_are_left_out_and_said_so() -> None:
    exc = travel(HoldsAnObjectError("lost a handle", handle=object()))
    assert type(exc) is HoldsAnObjectError
    assert str(exc) == "lost a handle" and exc.count == 3
    assert not hasattr(exc, "handle")
    notes: list[str] = getattr(exc, "__notes__", [])
    assert any("handle" in note and "not rebuilt" in note for note in notes)


def test_attributes_are_plain_json_not_pickle() -> None:
    payload = captured(WeirdError(1, detail="x"))
    assert json.loads(json.dumps(payload)) == payload
    assert payload["attrs"] == {"code": "1", "detail": '"x"'}


class Handle:
    name = "h1"


class StrNeedsAnObjectError(Exception):
    """``__str__`` reads an attribute that plain JSON cannot carry."""

    def __init__(self, *, handle: Handle) -> None:
        super().__init__()
        self.handle = handle

    def __str__(self) -> str:
        return f"handle {self.handle.name} is closed"


def test_str_that_cannot_work_after_rebuilding_falls_back_to_remote_error() -> None:
    exc = travel(StrNeedsAnObjectError(handle=Handle()))
    assert type(exc) is RemoteError and exc.message == "handle h1 is closed"
    assert exc.type_path.endswith("StrNeedsAnObjectError")


def test_payload_without_attributes_still_rebuilds() -> None:
    payload = captured(CustomStrError([1], 0))
    del payload["attrs"]  # written by an older pynenc
    exc = payload_to_exception(payload)
    assert type(exc) is CustomStrError and str(exc) == "1 items over the limit of 0"


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


class MyOSError(OSError):
    """An OSError subclass: its file names live outside ``args``."""


def test_oserror_file_names_come_back() -> None:
    rebuilt = payload_to_exception(exception_to_payload(MyOSError(2, "nofile", "/x")))
    assert type(rebuilt) is MyOSError
    assert str(rebuilt) == "[Errno 2] nofile: '/x'"
    assert rebuilt.filename == "/x" and rebuilt.errno == 2
