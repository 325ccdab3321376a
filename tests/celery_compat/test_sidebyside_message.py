"""Celery's args/kwargs split of a compat call survives pynenc's by-name arguments."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from pynenc_celery_compat.message import NARGS, call_arguments, message_args


def plain(a: int, b: int = 1, c: int = 2) -> None: ...


def starred(a: int, *rest: int, flag: bool = False, **extra: Any) -> None: ...


def only(a: int, /, b: int, *, c: int) -> None: ...


CASES = [
    (plain, (1, 2, 3), {}),
    (plain, (1,), {}),
    (plain, (1,), {"c": 5}),
    (plain, (), {"a": 1, "b": 2}),
    (plain, (1,), {"b": 2}),
    (starred, (1, 2, 3), {"flag": True, "x": "y"}),
    (starred, (), {"a": 1}),
    (starred, (1,), {"z": None}),
    (only, (1, 2), {"c": 3}),
    (only, (1,), {"b": 2, "c": 3}),
]


@pytest.mark.parametrize(("function", "args", "kwargs"), CASES)
def test_the_split_comes_back_as_given(function: Any, args: tuple[Any, ...], kwargs: Any) -> None:
    signature = inspect.signature(function)
    stored = call_arguments(signature, args, kwargs)
    assert message_args(signature, stored) == (list(args), kwargs)


def test_a_positional_call_stores_no_count() -> None:
    stored = call_arguments(inspect.signature(plain), (1, 2), {})
    assert stored.kwargs == {"a": 1, "b": 2}  # no default filled in, no NARGS


def test_a_named_positional_parameter_stores_the_count() -> None:
    stored = call_arguments(inspect.signature(plain), (1,), {"b": 2})
    assert stored.kwargs[NARGS] == 1


def test_a_call_that_does_not_fit_raises_type_error() -> None:
    with pytest.raises(TypeError):
        call_arguments(inspect.signature(plain), (1, 2, 3, 4), {})
