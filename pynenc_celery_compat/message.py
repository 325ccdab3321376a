"""A compat call's arguments as a Celery message carries them: ``args`` and ``kwargs`` as
the caller split them.

On a Celery worker, ``self.request.args``/``.kwargs``, the hooks and the signals see the
call as it was made: ``t.delay("a", factor=2)`` is ``args=["a"]``, ``kwargs={"factor": 2}``,
and a parameter left to its default is absent. pynenc stores arguments by parameter name,
which loses both. So a compat call stores the arguments the caller gave (no defaults
filled in), and, only when the caller passed by keyword a parameter that could have been
positional, how many arguments were positional (under :data:`NARGS`, a name no function
uses). :func:`message_args` turns them back into Celery's ``args`` and ``kwargs``. A plain
``t.delay(1, 2)`` stores nothing more.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from pynenc.arguments import Arguments

#: the stored entry counting the positional arguments of a call that also named some
NARGS = "__celery_nargs__"

_P = inspect.Parameter


def positional_names(signature: inspect.Signature) -> tuple[str, ...] | None:
    """The parameter names when every parameter can be given by position and nothing else
    (no ``*args``, ``**kwargs`` or keyword-only ones): a call passing exactly that many
    positional arguments binds them in order, which :func:`call_arguments`' callers may do
    without ``Signature.bind``. ``None`` otherwise."""
    parameters = signature.parameters.values()
    if all(p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD) for p in parameters):
        return tuple(signature.parameters)
    return None


def call_arguments(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Arguments:
    """The arguments of a call to store; ``TypeError`` when they do not fit ``signature``
    (Celery's ``typing``)."""
    named = dict(signature.bind(*args, **kwargs).arguments)
    parameters = signature.parameters
    if kwargs and any(
        name in parameters and parameters[name].kind is _P.POSITIONAL_OR_KEYWORD for name in kwargs
    ):
        named[NARGS] = len(args)
    return Arguments(named)


def message_args(
    signature: inspect.Signature, arguments: Arguments
) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` of a stored call, split as the caller split them."""
    named = dict(arguments.kwargs)
    nargs = named.pop(NARGS, None)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    by_position = True  # until a gap, or ``nargs`` positional arguments were taken
    for name, parameter in signature.parameters.items():
        kind = parameter.kind
        if name not in named:
            by_position = by_position and kind is _P.VAR_POSITIONAL
            continue
        value = named[name]
        if kind is _P.VAR_POSITIONAL:
            args.extend(value)
        elif kind is _P.VAR_KEYWORD:
            kwargs.update(value)
        elif kind is _P.POSITIONAL_ONLY or (
            kind is _P.POSITIONAL_OR_KEYWORD
            and by_position
            and (nargs is None or len(args) < nargs)
        ):
            args.append(value)
        else:
            by_position = False
            kwargs[name] = value
    return args, kwargs


__all__ = ["NARGS", "call_arguments", "message_args", "positional_names"]
