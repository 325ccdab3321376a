"""Functions named by import path: filters and argument providers of triggers.

A trigger is evaluated by whichever runner holds the services lease, in another process
than the one that declared it: the functions it calls must be found there by name. So a
filter or a provider is a module-level function, stored as ``module:name`` and imported
where it runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from pynenc.exceptions import TaskDefinitionError


def function_ref(func: Any, what: str) -> str:
    """``module:name`` of ``func``, checked to import back to the very same function.

    :raises TaskDefinitionError: ``func`` is not a function defined at the top level of an
        importable module (a lambda, a nested function, a method, a ``__main__`` function),
        naming ``what`` it was given as and how to fix it.
    """
    if not callable(func):
        raise TaskDefinitionError(f"{what} must be a function; got {func!r}")
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    fix = (
        "Define it with def at the top level of an importable module, so the runner that "
        "evaluates the trigger can import it by name."
    )
    if not isinstance(module, str) or not isinstance(name, str):
        raise TaskDefinitionError(f"{what} {func!r} has no module-level name. {fix}")
    if module == "__main__":
        raise TaskDefinitionError(
            f"{what} {name} is defined in __main__, which other processes cannot import. {fix}"
        )
    if "<" in name or "." in name:  # a lambda, a nested function, a method
        raise TaskDefinitionError(f"{what} {module}.{name} is not a module-level function. {fix}")
    found = getattr(sys.modules.get(module), name, None)
    if found is None:
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            found = None
    if found is not func and getattr(found, "__wrapped__", None) is not func:
        raise TaskDefinitionError(
            f"{what} {module}.{name} cannot be imported back by that name "
            f"(module {module!r} has no such attribute, or it is another object). {fix}"
        )
    return f"{module}:{name}"


def resolve_ref(ref: str) -> Callable[..., Any]:
    """The function that ``module:name`` names (imported when needed).

    :raises TaskDefinitionError: it cannot be imported, naming the reference.
    """
    module, _, name = ref.partition(":")
    try:
        func = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise TaskDefinitionError(
            f"Trigger function {ref!r} cannot be imported here: {type(exc).__name__}: {exc}. "
            "Every runner must be able to import the modules of trigger filters and providers."
        ) from exc
    if not callable(func):
        raise TaskDefinitionError(f"Trigger function {ref!r} is not callable")
    return func  # type: ignore[no-any-return]
