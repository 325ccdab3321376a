"""Type aliases shared across pynenc."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

Params = ParamSpec("Params")
Result = TypeVar("Result")
Func = Callable[Params, Result]
