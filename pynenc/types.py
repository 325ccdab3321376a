"""Type aliases shared across pynenc."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

Params = ParamSpec("Params")
Result = TypeVar("Result")
T = TypeVar("T")
Func = Callable[Params, Result]
AnyCallable = Callable[..., Any]
#: A JSON-safe exception description (see ``pynenc.serializer.exception_to_payload``).
ErrorPayload = dict[str, Any]
