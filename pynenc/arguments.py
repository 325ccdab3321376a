"""Arguments of a call, bound by parameter name against the task's signature."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any


class Arguments:
    """The arguments of one call, as ``{parameter name: value}``.

    Built by binding against the function's signature, so positional and keyword
    spellings of the same call are equal, and defaults are explicit.
    """

    __slots__ = ("kwargs",)

    def __init__(self, kwargs: Mapping[str, Any] | None = None) -> None:
        self.kwargs: dict[str, Any] = dict(kwargs) if kwargs else {}

    @classmethod
    def from_call(
        cls, signature: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Arguments:
        """Bind ``args``/``kwargs``; a call that doesn't fit raises ``TypeError``."""
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return cls(bound.arguments)

    def to_call(self, signature: inspect.Signature) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn the named arguments back into ``(args, kwargs)`` for the function."""
        bound = inspect.BoundArguments(signature, self.kwargs)
        return bound.args, bound.kwargs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arguments) and self.kwargs == other.kwargs

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, repr(v)) for k, v in self.kwargs.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"Arguments({inner})"
