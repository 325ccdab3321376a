"""Which Celery names ``pynenc_celery_compat`` offers, and the module that offers each.

The answer is read from the compat modules' ``__all__`` (imported on first use), so the
migration tools move exactly the names the layer exports today, never a stale list.
"""

from __future__ import annotations

import functools
import importlib

#: Celery module -> the compat module offering (some of) its names
CELERY_TO_COMPAT: dict[str, str] = {
    "celery": "pynenc_celery_compat",
    "celery.app.task": "pynenc_celery_compat.task",
    "celery.exceptions": "pynenc_celery_compat.exceptions",
    "celery.states": "pynenc_celery_compat.states",
    "celery.signals": "pynenc_celery_compat.signals",
    "celery.result": "pynenc_celery_compat.result",
    "celery.canvas": "pynenc_celery_compat.canvas",
    "celery.schedules": "pynenc_celery_compat.schedules",
    "celery.contrib.testing.worker": "pynenc_celery_compat.contrib.testing.worker",
    "celery.contrib.testing.tasks": "pynenc_celery_compat.contrib.testing.tasks",
    "celery.contrib.pytest": "pynenc_celery_compat.contrib.pytest",
}

#: names moved only when asked: the project's app stays a real ``celery.Celery`` while its
#: modules migrate one at a time (moving it switches every ``@app.task`` of it at once)
APP_NAMES: dict[str, frozenset[str]] = {"celery": frozenset({"Celery"})}

#: compat-only names that are not Celery's (never produced by a rewrite of Celery imports)
_COMPAT_ONLY = frozenset(
    {"wrap_task", "STATE_OF_STATUS", "celery_state", "state", "SOLAR_UNSUPPORTED"}
    | {"cron_expression", "build_task", "compat_base"}
)


@functools.cache
def exported(compat_module: str) -> frozenset[str]:
    """The Celery names ``compat_module`` exports (its ``__all__``, less compat-only ones)."""
    module = importlib.import_module(compat_module)
    names = getattr(module, "__all__", None)
    if names is None:  # its own imports (os, pytest, …) would pass for Celery names
        raise TypeError(f"{compat_module} has no __all__: the migration tools cannot tell its API")
    return frozenset(names) - _COMPAT_ONLY


#: why an exception class the compat layer subclasses stays on Celery
CATCHES_BOTH = (
    "Celery's exception class catches both worlds (pynenc_celery_compat raises a subclass "
    "of it); the compat class would miss the ones Celery's tasks raise"
)


@functools.cache
def caught_by_celerys(celery_module: str) -> frozenset[str]:
    """Exception classes of ``celery_module`` the compat layer subclasses: kept on Celery,
    where ``except``/``isinstance`` match what both Celery and pynenc raise while modules
    migrate (a moved ``except TimeoutError`` would miss a Celery task's timeout)."""
    compat = CELERY_TO_COMPAT.get(celery_module)
    if compat is None:
        return frozenset()
    try:
        original = importlib.import_module(celery_module)
    except ImportError:
        return frozenset()
    mine = importlib.import_module(compat)
    caught = set()
    for name in exported(compat):
        theirs, ours = getattr(original, name, None), getattr(mine, name)
        if (
            isinstance(theirs, type)
            and issubclass(theirs, BaseException)
            and ours is not theirs
            and isinstance(ours, type)
            and issubclass(ours, theirs)
        ):
            caught.add(name)
    return frozenset(caught)


@functools.cache
def offered(celery_module: str) -> frozenset[str]:
    """The names of ``celery_module`` its compat module offers: exported by the compat module
    and existing in Celery's (a rewrite never imports what the original could not)."""
    compat = CELERY_TO_COMPAT.get(celery_module)
    if compat is None:
        return frozenset()
    names = exported(compat)
    try:
        original = importlib.import_module(celery_module)
    except ImportError:  # e.g. celery.contrib.pytest without pytest: trust the compat side
        return names
    caught = caught_by_celerys(celery_module)
    return frozenset(name for name in names if hasattr(original, name) and name not in caught)


def why_kept(celery_module: str, name: str, *, app_reason: str, default: str) -> str:
    """The reason ``name`` stays on Celery: ``app_reason`` for the app class, ``CATCHES_BOTH``
    for an exception class Celery's catches in both worlds, else ``default``."""
    if name in caught_by_celerys(celery_module):
        return CATCHES_BOTH
    if name in APP_NAMES.get(celery_module, frozenset()):
        return app_reason
    return default


def compat_module_for(celery_module: str, name: str, *, include_app: bool = False) -> str | None:
    """The compat module to import ``name`` from instead of ``celery_module``, or ``None``
    when the name stays on Celery (not offered, or the app class unless ``include_app``)."""
    compat = CELERY_TO_COMPAT.get(celery_module)
    if compat is None:
        return None
    if not include_app and name in APP_NAMES.get(celery_module, frozenset()):
        return None
    return compat if name in offered(celery_module) else None


#: offered names a rewrite leaves on Celery until ``include_app`` (the last step), and why:
#: the task base class (moved, every ``@app.task(base=…)`` built on a subclass of it in
#: modules not migrated yet would switch at once, and a compat ``Task`` subclass registered
#: on a real Celery app keeps Celery's path anyway)
SHARED: dict[tuple[str, str], str] = {
    ("celery", "Task"): "task_class",
    ("celery.app.task", "Task"): "task_class",
}


def destination(
    celery_module: str, name: str, *, include_app: bool = False
) -> tuple[str | None, str]:
    """Where a rewrite takes ``from celery_module import name``: ``(compat module, "")``
    when it moves, ``(None, reason)`` when it stays on Celery (the reasons of
    :mod:`.rewrite`, or :data:`CATCHES_BOTH`). :func:`compat_module_for` says what the
    compat layer offers; this also says what a rewrite leaves alone although it is
    offered."""
    from pynenc_celery_compat.migration import rewrite

    compat = compat_module_for(celery_module, name, include_app=True)
    if compat is None:
        return None, why_kept(
            celery_module, name, app_reason=rewrite.APP_CLASS, default=rewrite.NOT_OFFERED
        )
    if not include_app:
        if name in APP_NAMES.get(celery_module, frozenset()):
            return None, rewrite.APP_CLASS
        if (celery_module, name) in SHARED:
            return None, rewrite.TASK_CLASS
    return compat, ""


@functools.cache
def narrower(celery_module: str, name: str) -> bool:
    """Whether the compat layer's ``name`` is a subclass of Celery's class of that name
    (``crontab``, ``group``, ``Signature``, ``GroupResult``): made by the compat layer, it is
    both; made by Celery (a schedule in a module not migrated yet, Celery's canvas), it is
    only Celery's, so ``isinstance``/``except`` with the compat class misses it."""
    compat = compat_module_for(celery_module, name, include_app=True)
    if compat is None:
        return False
    theirs = getattr(importlib.import_module(celery_module), name, None)
    ours = getattr(importlib.import_module(compat), name, None)
    return (
        isinstance(theirs, type)
        and isinstance(ours, type)
        and ours is not theirs
        and issubclass(ours, theirs)
    )


def compat_module_of(celery_module: str) -> str | None:
    """The compat module standing for a whole Celery module (``import celery.states as s``),
    or ``None`` when there is none."""
    return CELERY_TO_COMPAT.get(celery_module)
