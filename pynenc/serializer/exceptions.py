"""Exceptions crossing processes: a plain-JSON payload out, the same class back when it can be.

A payload holds the type path (``module.QualName``), ``str(exc)``, each argument encoded by the
json serializer (its ``repr`` when it cannot be) and the formatted remote traceback.

Rebuilding imports only the module the type path names, accepts only an ``Exception``
subclass, and calls nothing but that class with the recorded arguments. Anything else comes
back as :class:`~pynenc.exceptions.RemoteError`. Either way the remote traceback is attached
as a note, so it is printed with the local one.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Mapping
from typing import Any

from pynenc.exceptions import RemoteError, SerializationError
from pynenc.serializer.json_serializer import JsonSerializer

_JSON = JsonSerializer()
NOTE_PREFIX = "Remote traceback:"


def exception_to_payload(exc: BaseException) -> dict[str, Any]:
    """A JSON-safe description of ``exc``: ``type``, ``message``, ``args`` and ``traceback``."""
    cls = type(exc)
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": _safe_str(exc),
        "args": [_encode_arg(arg) for arg in exc.args],
        "traceback": "".join(traceback.format_exception(exc)),
    }


def payload_to_exception(payload: Mapping[str, Any]) -> BaseException:
    """Rebuild the exception described by ``payload`` (see :func:`exception_to_payload`).

    Returns an instance of the original class when it imports, is an ``Exception`` subclass and
    accepts the recorded arguments; otherwise a :class:`RemoteError` carrying the type path,
    message, arguments and traceback.
    """
    type_path = str(payload.get("type", "<unknown>"))
    message = str(payload.get("message", ""))
    remote_tb = str(payload.get("traceback", ""))
    raw_args = payload.get("args")
    args = tuple(_decode_arg(arg) for arg in raw_args) if isinstance(raw_args, list) else ()
    exc = _rebuild(type_path, args)
    if exc is None:
        exc = RemoteError(type_path, message, args, remote_tb)
    exc.add_note(f"{NOTE_PREFIX}\n{remote_tb.rstrip()}" if remote_tb else f"{NOTE_PREFIX} none")
    return exc


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    # A broken __str__ must not hide the failure it describes.
    except Exception:
        return f"<str() of {type(exc).__qualname__} failed>"


def _encode_arg(arg: Any) -> str:
    try:
        return _JSON.dumps(arg)
    except SerializationError:
        return _JSON.dumps(repr(arg))


def _decode_arg(text: Any) -> Any:
    try:
        return _JSON.loads(text)
    except SerializationError:
        return text  # a hand-written or damaged payload: keep what is there


def _rebuild(type_path: str, args: tuple[Any, ...]) -> BaseException | None:
    cls = _import_exception_class(type_path)
    if cls is None:
        return None
    try:
        return cls(*args)
    # A class whose constructor needs more than its args (or rejects them) cannot be rebuilt.
    except Exception:
        return None


def _import_exception_class(type_path: str) -> type[Exception] | None:
    """The class ``type_path`` names, or ``None`` if it is not an importable ``Exception``.

    The longest importable module prefix wins; the rest is walked as nested class names.
    BaseException-only classes (SystemExit, KeyboardInterrupt, CancelledError) are refused:
    raised at the call site they would stop the caller, not report the task's failure.
    """
    parts = type_path.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        return None
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        # The module exists but fails to import: the class cannot be had.
        except Exception:
            return None
        for name in parts[split:]:
            target = getattr(target, name, None)
            if not isinstance(target, type):
                return None
        return target if isinstance(target, type) and issubclass(target, Exception) else None
    return None
