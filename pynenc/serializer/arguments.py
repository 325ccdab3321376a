"""Encoding task arguments and results, with errors that name the culprit and the fix.

Each argument is encoded on its own, so arguments shared by many calls can be encoded once and
merged into each call's mapping with a dict union.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynenc.exceptions import SerializationError
from pynenc.serializer.base import Serializer

_SWITCH = (
    "set the serializer option to {choices} "
    '(PYNENC__SERIALIZER={example} or app.conf.serializer = "{example}"; for one task '
    'only, @app.task(serializer="{example}") with it in the app\'s accept_serializers)'
)


def _fix(serializer: Serializer) -> str:
    """What the user can do about a value ``serializer`` rejects."""
    if serializer.name == "json":
        switch = _SWITCH.format(choices="'pickle' or 'cloudpickle'", example="cloudpickle")
        return f"Pass a JSON-compatible value, or {switch}."
    if serializer.name == "pickle":
        switch = _SWITCH.format(choices="'cloudpickle'", example="cloudpickle")
        return f"Pass a picklable value, or {switch} for lambdas, closures and local classes."
    if serializer.name == "cloudpickle":
        # Nothing serializes live resources; the way out is to create them in the task.
        return (
            "Pass a value that can be pickled; resources such as connections, sockets, locks "
            "and open files cannot be, so pass what is needed to open them inside the task."
        )
    switch = _SWITCH.format(choices="another serializer", example="json")
    return f"Pass a value the {serializer.name!r} serializer supports, or {switch}."


def _encode_error(serializer: Serializer, what: str, value: Any, exc: Exception) -> str:
    return (
        f"{what} (type {type(value).__qualname__}) cannot be serialized with the "
        f"{serializer.name!r} serializer. {_fix(serializer)} Cause: {exc}"
    )


def serialize_arguments(
    serializer: Serializer, task_id: str, arguments: Mapping[str, Any]
) -> dict[str, str]:
    """Encode each argument separately.

    :raises SerializationError: naming the task, the argument, its type and the fix.
    """
    encoded: dict[str, str] = {}
    for name, value in arguments.items():
        try:
            encoded[name] = serializer.dumps(value)
        # A third-party serializer may raise its own errors; all get the same explanation.
        except Exception as exc:
            what = f"Argument {name!r} of task {task_id!r}"
            raise SerializationError(_encode_error(serializer, what, value, exc)) from exc
    return encoded


def deserialize_arguments(serializer: Serializer, data: Mapping[str, str]) -> dict[str, Any]:
    """Decode arguments encoded by :func:`serialize_arguments`.

    :raises SerializationError: naming the argument that cannot be decoded.
    """
    decoded: dict[str, Any] = {}
    for name, text in data.items():
        try:
            decoded[name] = serializer.loads(text)
        except Exception as exc:
            raise SerializationError(
                f"Argument {name!r} cannot be decoded with the {serializer.name!r} "
                f"serializer: {exc}"
            ) from exc
    return decoded


def serialize_result(serializer: Serializer, task_id: str, value: Any) -> str:
    """Encode the return value of task ``task_id``.

    :raises SerializationError: naming the task, the value's type and the fix.
    """
    try:
        return serializer.dumps(value)
    except Exception as exc:
        what = f"The return value of task {task_id!r}"
        raise SerializationError(_encode_error(serializer, what, value, exc)) from exc


def deserialize_result(serializer: Serializer, data: str) -> Any:
    """Decode a result encoded by :func:`serialize_result`."""
    try:
        return serializer.loads(data)
    except Exception as exc:
        raise SerializationError(
            f"A task result cannot be decoded with the {serializer.name!r} serializer: {exc}"
        ) from exc
