"""Declared options and the parsers that turn raw values into typed ones.

Each configuration component declares one :class:`OptionTable`: every option with its name,
default, parser, the text describing what it expects, and a one-line description. The table
is the only place an option exists; loading, validation, error messages and ``describe()`` all
read it. Parsers accept both native values (from code, YAML, TOML, JSON) and text (from the
environment), and raise :class:`InvalidValue` so that the table can name the option and the
source in the :class:`~pynenc.exceptions.ConfigError` it raises.
"""

from __future__ import annotations

import builtins
import difflib
import enum
import importlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pynenc.exceptions import ConfigError

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

#: The source recorded for values set with ``conf.option = value``.
ASSIGNMENT = "assignment"
DEFAULT = "default"


class InvalidValue(ValueError):
    """A parser rejected a value; the optional message adds detail to the expected form."""


@dataclass(frozen=True, slots=True)
class Option(Generic[T]):
    """One option: its name, default, parser, expected form and a one-line description."""

    name: str
    default: T
    parse: Callable[[Any], T]
    expected: str
    description: str
    #: how the value is shown (``show-config``, banners, logs): hides secrets in it
    mask: Callable[[Any], Any] | None = None

    def shown(self, value: Any) -> Any:
        """``value`` as it may be printed: masked when the option holds a secret."""
        return value if self.mask is None else self.mask(value)


@dataclass(frozen=True, slots=True)
class Unchecked:
    """A raw value for a task option that pynenc's table does not declare, kept as read.

    Only the class of the task knows whether it is one of its options (a ``Task`` subclass's
    ``extra_options``); it is parsed, or refused, when a task is declared.
    """

    raw: Any


@dataclass(frozen=True, slots=True)
class OptionValue:
    """A resolved option value and the human-readable source it came from.

    ``value`` is the real value; print ``shown``, which hides secrets (passwords in URLs,
    signing keys).
    """

    name: str
    value: Any
    source: str
    description: str = field(default="", compare=False)
    shown: Any = field(default=None, compare=False)


class OptionTable:
    """The options of one component (``section`` is ``""`` for the top level)."""

    def __init__(self, section: str, options: Iterable[Option[Any]]) -> None:
        self.section = section
        self.options: dict[str, Option[Any]] = {opt.name: opt for opt in options}
        self.names: tuple[str, ...] = tuple(self.options)

    def __contains__(self, name: object) -> bool:
        return name in self.options

    def __getitem__(self, name: str) -> Option[Any]:
        return self.options[name]

    def qualname(self, name: str, prefix: str | None = None) -> str:
        """``name`` as written in messages and ``describe()``: ``runner.threads``."""
        prefix = self.section if prefix is None else prefix
        return f"{prefix}.{name}" if prefix else name

    def default(self, name: str) -> Any:
        # Defaults go through the parser too, so mutable ones are never shared between configs.
        return self.options[name].parse(self.options[name].default)

    def parse(self, name: str, raw: Any, source: str, *, prefix: str | None = None) -> Any:
        """Parse ``raw`` for option ``name``; raises ``ConfigError`` naming option and source."""
        if name not in self.options:
            raise self.unknown(name, source, prefix=prefix)
        try:
            return self.options[name].parse(raw)
        except InvalidValue as exc:
            raise self.invalid(name, raw, source, str(exc), prefix=prefix) from None

    def invalid(
        self, name: str, raw: Any, source: str, detail: str = "", *, prefix: str | None = None
    ) -> ConfigError:
        """The error for a bad value of option ``name``."""
        option = self.options[name]
        message = (  # a secret is shown masked even when it is the wrong value
            f"{self.qualname(name, prefix)} must be {option.expected}, "
            f"got {option.shown(raw)!r} (from {source})"
        )
        return ConfigError(f"{message}: {detail}" if detail else message)

    def unknown(
        self, name: str, source: str, *, prefix: str | None = None, extra: Iterable[str] = ()
    ) -> ConfigError:
        """The error for an option this table does not have, with a "did you mean" hint.

        ``extra`` adds names that are valid at this level without being options (sections).
        """
        valid = sorted({*self.names, *extra})
        message = f"Unknown option {self.qualname(name, prefix)!r} (from {source})."
        close = difflib.get_close_matches(name.lower(), valid, n=1)
        if close:
            message += f" Did you mean {self.qualname(close[0], prefix)!r}?"
        where = f" of {prefix or self.section}" if (prefix or self.section) else ""
        return ConfigError(f"{message} Valid options{where}: {', '.join(valid)}")


# -- parsers -----------------------------------------------------------------------------------


def text(raw: Any) -> str:
    """A non-empty string."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidValue()
    return raw


def choice(*choices: str) -> Callable[[Any], str]:
    """One of ``choices``, compared case-insensitively and stored lower-case."""

    def parse(raw: Any) -> str:
        if isinstance(raw, str) and raw.strip().lower() in choices:
            return raw.strip().lower()
        raise InvalidValue()

    return parse


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def boolean(raw: Any) -> bool:
    """A bool, or its text form: true/false, 1/0, yes/no, on/off (any case)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise InvalidValue()


def integer(minimum: int) -> Callable[[Any], int]:
    """An integer (or its decimal text) no smaller than ``minimum``."""

    def parse(raw: Any) -> int:
        # bool is an int subclass; ``threads: true`` is a mistake, not 1.
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and re.fullmatch(r"\s*[-+]?\d+\s*", raw):
            value = int(raw)
        else:
            raise InvalidValue()
        if value < minimum:
            raise InvalidValue()
        return value

    return parse


def number(minimum: float) -> Callable[[Any], float]:
    """A real number (or its text) no smaller than ``minimum``: seconds, mostly."""

    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise InvalidValue()
        try:
            value = float(raw) if isinstance(raw, int | float | str) else None
        except ValueError:
            value = None
        if value is None or value != value or value < minimum:  # value != value: NaN
            raise InvalidValue()
        return value

    return parse


def string_tuple(raw: Any) -> tuple[str, ...]:
    """A list of strings, or one comma-separated string (blank items are dropped)."""
    if isinstance(raw, str):
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        return tuple(item.strip() for item in raw if item.strip())
    raise InvalidValue()


def json_object(raw: Any) -> dict[str, Any]:
    """A mapping with string keys, or the text of a JSON object."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidValue(f"invalid JSON ({exc})") from None
    if isinstance(raw, Mapping) and all(isinstance(key, str) for key in raw):
        return dict(raw)
    raise InvalidValue()


def enum_member(enum_cls: type[E]) -> Callable[[Any], E]:
    """A member of ``enum_cls``, or its name or value as text (any case)."""

    def parse(raw: Any) -> E:
        if isinstance(raw, enum_cls):
            return raw
        if isinstance(raw, str):
            word = raw.strip().lower()
            for member in enum_cls:
                if word in (member.name.lower(), str(member.value).lower()):
                    return member
        raise InvalidValue()

    return parse


def choices_text(values: Iterable[str]) -> str:
    """``"one of 'a', 'b'"``: the expected-form text of a closed set of values."""
    return "one of " + ", ".join(repr(value) for value in values)


_CLASS_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?")


def class_ref(raw: Any) -> type | str:
    """A class, or the import path of one (``module:Class`` or ``module.Class``), imported
    only when first needed: the module defining it usually imports the app."""
    if isinstance(raw, type):
        return raw
    if isinstance(raw, str) and _CLASS_PATH.fullmatch(raw.strip()):
        return raw.strip()
    raise InvalidValue()


def class_path(value: Any) -> Any:
    """A class shown as its import path (``show-config``, describe())."""
    return f"{value.__module__}.{value.__qualname__}" if isinstance(value, type) else value


# -- exception classes by reference --------------------------------------------------------------

#: An exception class, or the dotted import path of one that has not been imported yet.
ExceptionRef = type[Exception] | str

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def exception_refs(raw: Any) -> tuple[ExceptionRef, ...]:
    """Exception classes or dotted paths (a list, or comma-separated text); paths stay unresolved.

    Resolution is left to :func:`resolve_exception_refs` because importing user modules while
    the app config is being built is a classic circular import (the module defining the
    exception usually imports the app).
    """
    items: list[Any]
    if isinstance(raw, str):
        items = [item.strip() for item in raw.split(",") if item.strip()]
    elif isinstance(raw, list | tuple):
        items = [item.strip() if isinstance(item, str) else item for item in raw]
    else:
        items = [raw]
    refs: list[ExceptionRef] = []
    for item in items:
        is_path = isinstance(item, str) and _DOTTED.fullmatch(item)
        if is_path or (isinstance(item, type) and issubclass(item, Exception)):
            refs.append(item)
        else:
            raise InvalidValue(f"{item!r} is neither an Exception subclass nor a dotted path")
    return tuple(refs)


def resolve_exception_refs(refs: Iterable[ExceptionRef]) -> tuple[type[Exception], ...]:
    """Import every dotted path in ``refs``; bare names resolve in :mod:`builtins`."""
    resolved = [ref if isinstance(ref, type) else _import_exception(ref) for ref in refs]
    return tuple(dict.fromkeys(resolved))


def _import_exception(path: str) -> type[Exception]:
    obj = _import_object(path)
    if not (isinstance(obj, type) and issubclass(obj, Exception)):
        raise InvalidValue(f"{path!r} is not an Exception subclass")
    return obj


def import_object(path: str) -> Any:
    """The object at ``module:attr.attr`` or ``module.attr`` (the longest importable prefix
    is the module); raises :class:`InvalidValue` saying what could not be imported."""
    module_name, colon, attrs = path.partition(":")
    if not colon:
        return _import_object(path)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidValue(f"cannot import {path!r} ({exc})") from None
    for attr in attrs.split("."):
        if not hasattr(obj, attr):
            raise InvalidValue(f"cannot import {path!r}: {module_name} has no {attr!r}")
        obj = getattr(obj, attr)
    return obj


def _import_object(path: str) -> Any:
    parts = path.split(".")
    if len(parts) == 1:
        if hasattr(builtins, path):
            return getattr(builtins, path)
        raise InvalidValue(f"{path!r} is not a builtin; use its full dotted import path")
    # The longest importable prefix is the module; the rest are attributes (nested classes).
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as exc:
            # Only "this prefix is not a module" means: try a shorter one. A module that exists
            # but fails its own imports is reported as is.
            missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
            is_prefix = missing is not None and f"{module_name}.".startswith(f"{missing}.")
            if split == 1 or not is_prefix:
                raise InvalidValue(f"cannot import {path!r} ({exc})") from None
            continue
        for attr in parts[split:]:
            if not hasattr(obj, attr):
                raise InvalidValue(f"cannot import {path!r}: {module_name} has no {attr!r}")
            obj = getattr(obj, attr)
        return obj
    raise AssertionError("unreachable: the loop returns or raises at split == 1")
