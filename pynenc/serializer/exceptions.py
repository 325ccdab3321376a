"""Exceptions crossing processes: a plain-JSON payload out, the same class back when it can be.

A payload holds the type path (``module.QualName``), ``str(exc)``, each argument encoded by the
json serializer (its ``repr`` when it cannot be), the instance attributes the json serializer
can encode (``attrs``; the names of the others in ``skipped``) and the formatted remote
traceback. Plain JSON both ways: nothing is unpickled.

Rebuilding imports only the module the type path names and accepts only an ``Exception``
subclass. It first calls the class with the recorded arguments; when that fails or gives
another message (keyword-only or unusual constructors), it creates the instance without
``__init__`` and sets ``args`` and the attributes. The instance whose ``str()`` is the
original message wins. Anything else comes back as :class:`~pynenc.exceptions.RemoteError`.
Either way the remote traceback is attached as a note, so it is printed with the local one.
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
#: OSError fields kept outside its args (``OSError(2, "No such file", "/x")``)
_OS_FIELDS = ("filename", "filename2")


def exception_to_payload(exc: BaseException) -> dict[str, Any]:
    """A JSON-safe description of ``exc``: ``type``, ``message``, ``args``, ``attrs`` (its
    instance attributes; ``skipped`` names those JSON cannot carry) and ``traceback``."""
    cls = type(exc)
    attrs: dict[str, str] = {}
    skipped: list[str] = []
    own = dict(getattr(exc, "__dict__", {}))
    if isinstance(exc, OSError):  # C-level fields that args do not carry
        own.update((name, getattr(exc, name)) for name in _OS_FIELDS if getattr(exc, name))
    for name, value in own.items():
        if name.startswith("__"):  # __notes__ and the like: not the exception's own data
            continue
        try:
            attrs[name] = _JSON.dumps(value)
        except SerializationError:
            skipped.append(name)
    payload: dict[str, Any] = {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": _safe_str(exc),
        "args": [_encode_arg(arg) for arg in exc.args],
        "attrs": attrs,
        "traceback": "".join(traceback.format_exception(exc)),
    }
    if skipped:
        payload["skipped"] = skipped
    return payload


def payload_to_exception(payload: Mapping[str, Any]) -> BaseException:
    """Rebuild the exception described by ``payload`` (see :func:`exception_to_payload`).

    Returns an instance of the original class, with its attributes, when it imports and is an
    ``Exception`` subclass that can be rebuilt with a working ``str()``; otherwise a
    :class:`RemoteError` carrying the type path, message, arguments and traceback.
    """
    type_path = str(payload.get("type", "<unknown>"))
    message = str(payload.get("message", ""))
    remote_tb = str(payload.get("traceback", ""))
    raw_args = payload.get("args")
    args = tuple(_decode_arg(arg) for arg in raw_args) if isinstance(raw_args, list) else ()
    raw_attrs = payload.get("attrs")
    attrs = (
        {str(k): _decode_arg(v) for k, v in raw_attrs.items() if not str(k).startswith("__")}
        if isinstance(raw_attrs, Mapping)
        else {}
    )
    exc = _rebuild(type_path, args, attrs, message)
    if exc is None:
        exc = RemoteError(type_path, message, args, remote_tb)
    else:
        skipped = payload.get("skipped")
        if isinstance(skipped, list) and skipped:
            names = ", ".join(str(name) for name in skipped)
            exc.add_note(f"Attributes not rebuilt (the json serializer cannot carry them): {names}")
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


def _rebuild(
    type_path: str, args: tuple[Any, ...], attrs: dict[str, Any], message: str
) -> BaseException | None:
    """The exception of class ``type_path`` with ``args`` and ``attrs`` whose ``str()`` is
    ``message`` if one can be had; else the best working one; ``None`` if none works."""
    cls = _import_exception_class(type_path)
    if cls is None:
        return None
    constructed: BaseException | None = None
    try:
        constructed = _with_attrs(cls(*args), attrs)
    # A constructor that needs more than the args (keyword-only, several values).
    except Exception:
        constructed = None
    if constructed is not None and _str_is(constructed, message):
        return constructed
    try:
        # Without __init__: the constructor's own code and its required arguments are skipped.
        bare = _with_attrs(cls.__new__(cls, *args), attrs)
        bare.args = args
    except Exception:
        return constructed
    if _str_is(bare, message) or (constructed is None and _str_works(bare)):
        return bare
    return constructed


def _with_attrs(exc: BaseException, attrs: dict[str, Any]) -> BaseException:
    # Straight into the instance dict: a property or __setattr__ of the class stays out of it.
    # OSError's file names are C-level fields its str() reads: set as attributes.
    if attrs:
        plain = dict(attrs)
        if isinstance(exc, OSError):
            for name in _OS_FIELDS:
                if name in plain:
                    setattr(exc, name, plain.pop(name))
        vars(exc).update(plain)
    return exc


def _str_is(exc: BaseException, message: str) -> bool:
    try:
        return str(exc) == message
    except Exception:
        return False


def _str_works(exc: BaseException) -> bool:
    try:
        str(exc)
    except Exception:
        return False
    return True


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
