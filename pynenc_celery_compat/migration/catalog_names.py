"""Celery's importable names: what each one is (for the scanner) and how its import is rated.

A name the compat layer offers (:func:`.offered.compat_module_for`, read from the compat
modules' ``__all__``) is supported: ``migrate`` moves its import. The others stay on Celery:
some work as they are (utilities, Celery's eager results), some cannot work on pynenc
(worker internals, beat's scheduler, events), the app class stays on purpose while modules
migrate one at a time. A name none of the tables holds is "not known to the audit".
"""

from __future__ import annotations

from pynenc_celery_compat.migration.catalog import Rating, differs, no, ok, unknown
from pynenc_celery_compat.migration.catalog_app import SIGNALS, signal
from pynenc_celery_compat.migration.offered import (
    CATCHES_BOTH,
    CELERY_TO_COMPAT,
    caught_by_celerys,
    compat_module_for,
    destination,
)

COMPAT = "pynenc_celery_compat"

#: modules whose names are Celery's public ones under another path
_SAME_AS = {
    "celery.app": "celery",
    "celery.app.base": "celery",
    "celery.local": "celery",
    "celery._state": "celery",
    "celery.app.utils": "celery",
}

#: what a Celery name is, for the scanner: name -> (modules defining it, kind)
_KINDS: dict[str, tuple[frozenset[str], str]] = {}


def _kind(kind: str, modules: tuple[str, ...], *names: str) -> None:
    for name in names:
        _KINDS[name] = (frozenset(modules), kind)


_kind("app_class", ("celery", "celery.app", "celery.app.base"), "Celery")
_kind("shared_task", ("celery", "celery.app"), "shared_task")
_kind("task_class", ("celery", "celery.app.task", "celery.task"), "Task")
_kind("task_class", ("celery.contrib.django.task",), "DjangoTask")
_kind("task_class", ("celery.contrib.abortable",), "AbortableTask")
_kind(
    "canvas",
    ("celery", "celery.canvas"),
    "group",
    "chain",
    "chord",
    "chunks",
    "xmap",
    "xstarmap",
    "signature",
    "Signature",
    "subtask",
    "maybe_signature",
)
_kind("result_class", ("celery", "celery.result"), "AsyncResult", "GroupResult")
_kind("result_class", ("celery.result",), "ResultSet", "EagerResult")
_kind("allow_join", ("celery.result",), "allow_join_result")
_kind("schedule", ("celery", "celery.schedules"), "crontab", "solar", "schedule")
_kind("current_app", ("celery", "celery._state", "celery.app"), "current_app")
_kind("current_task", ("celery", "celery._state", "celery.app"), "current_task")
_kind("start_worker", ("celery.contrib.testing.worker",), "start_worker")
_kind("signal", ("celery.signals",), *SIGNALS, "Signal")


def split(qual: str) -> tuple[str, str]:
    """``"celery.schedules.crontab"`` -> ``("celery.schedules", "crontab")``."""
    module, _, name = qual.rpartition(".")
    return module, name


def is_celery(qual: str) -> bool:
    return qual == "celery" or qual.startswith("celery.")


def is_compat(qual: str) -> bool:
    return qual == COMPAT or qual.startswith(COMPAT + ".")


def kind_of(qual: str) -> str | None:
    """What the Celery (or compat) object at ``qual`` is: ``"shared_task"``, ``"canvas"``,
    ``"signal"``, …; ``None`` for anything else."""
    module, name = split(qual)
    found = _KINDS.get(name)
    if found is None:
        return None
    modules, kind = found
    if is_compat(module) or module in modules:
        return kind
    return None


#: names that stay on Celery and work as they are, or cannot work: (module, name or "*")
_VERSION = ok("imports", "Celery's version, kept (Celery stays installed)")
_KEPT: dict[tuple[str, str], Rating] = {
    ("celery", "uuid"): ok("imports", "a Celery utility, kept on Celery (Celery stays installed)"),
    **{
        ("celery", name): _VERSION
        for name in ("__version__", "VERSION", "VERSION_BANNER", "version_info", "SERIES")
    },
    ("celery.states", "*"): ok(
        "states", "kept on Celery: its helpers work on the state names compat results show"
    ),
    ("celery.result", "ResultSet"): ok(
        "results", "Celery's class, kept: over compat results each member's get() reads pynenc"
    ),
    ("celery.result", "EagerResult"): ok("results", "eager mode is Celery's own: kept"),
    ("celery.result", "allow_join_result"): ok("results", "honoured by the compat results"),
    ("celery.result", "denied_join_result"): ok("results", "honoured by the compat results"),
    ("celery.app.task", "Context"): ok("calling", "a runner's self.request is one"),
    ("celery.contrib.django.task", "DjangoTask"): ok(
        "calling", "compat tasks have delay_on_commit / apply_async_on_commit themselves"
    ),
    **{
        (module, name): ok(
            "app", "Celery's current-app helpers, kept: compat tasks follow the current app"
        )
        for module, name in (
            ("celery._state", "get_current_app"),
            ("celery._state", "set_default_app"),
            ("celery._state", "get_current_task"),
            ("celery.app", "app_or_default"),
            ("celery.app", "default_app"),
            ("celery.contrib.testing.app", "setup_default_app"),
        )
    },
    ("celery.contrib.testing.app", "TestApp"): differs(
        "the-app-stays-on-celery",
        "Celery's test app is a real celery.Celery: compat shared tasks follow it, its "
        "@app.task stay Celery's (the compat plugin's celery_app fixture is a compat app)",
    ),
    ("celery.result", "result_from_tuple"): ok(
        "results", "rebuilds results through app.AsyncResult: compat ones for compat calls"
    ),
    ("celery.backends.base", "DisabledBackend"): ok(
        "results", "Celery's marker for no result backend, kept (compat results use none)"
    ),
    ("celery.contrib.rdb", "*"): ok(
        "testing", "Celery's remote debugger: works in any process, a runner's too (kept)"
    ),
    ("celery.contrib.abortable", "*"): no(
        "testing",
        "aborting goes through Celery's result backend, where pynenc stores nothing: use "
        "revoke(terminate=True)",
    ),
    ("celery.contrib.migrate", "*"): no(
        "worker",
        "moves Celery's messages between brokers; pynenc's are its own: let Celery's workers "
        "drain Celery's queues",
    ),
    ("celery.utils.log", "*"): differs(
        "logging",
        "Celery's logger, kept: a runner leaves log formatting to the process (no task "
        "name/id added to lines)",
    ),
    ("celery.utils", "*"): ok(
        "imports", "a Celery utility, kept on Celery (Celery stays installed)"
    ),
    ("celery.bootsteps", "*"): no("worker", "Celery worker internals: pynenc runners are not"),
    ("celery.worker", "*"): no("worker", "Celery worker internals: pynenc runners are not"),
    ("celery.concurrency", "*"): no("worker", "Celery's pools: pynenc runners have their own"),
    ("celery.apps", "*"): no("worker", "Celery's worker and beat programs: use pynenc-celery"),
    ("celery.bin", "*"): no("worker", "Celery's command line: use pynenc-celery"),
    ("celery.beat", "*"): no(
        "beat", "Celery's beat scheduler: there is no beat process, the runners run beat_schedule"
    ),
    ("celery.events", "*"): no("worker", "no Celery events: pynenc status shows the work"),
    ("celery.backends", "*"): no(
        "results", "Celery's result backends: compat calls are stored in pynenc's state backend"
    ),
    ("celery.app.control", "*"): no(
        "results", "Celery's remote control reaches Celery workers only"
    ),
    ("django_celery_beat", "*"): differs(
        "django-celery-beat",
        "rows edited in the admin are not read by pynenc's runners: keep celery beat for them "
        "or move them into beat_schedule",
    ),
    ("django_celery_results", "*"): no(
        "results",
        "pynenc writes no TaskResult rows: read a call through AsyncResult(id) or pynenc status",
    ),
}

#: Celery modules the audit knows (their attributes are names imported from them)
KNOWN_MODULES = frozenset(
    {"celery", *CELERY_TO_COMPAT, *(module for module, name in _KEPT if name == "*")}
)

_APP_CLASS = differs(
    "the-app-stays-on-celery",
    "the project's app stays a real celery.Celery while modules migrate (compat tasks "
    "follow it); move it last",
)


def _kept(module: str, name: str) -> Rating | None:
    exact = _KEPT.get((module, name))
    if exact is not None:
        return exact
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = _KEPT.get((".".join(parts[:end]), "*"))
        if found is not None:
            return found
    return None


def import_rating(module: str, name: str) -> Rating:
    """The import of ``name`` from Celery's (or the compat layer's) ``module``; ``name`` is
    ``"*"`` for a star import and ``""`` for the module itself (``import celery.states``)."""
    if is_compat(module):
        return ok("imports", "already on the compat layer")
    if name == "*":
        return unknown("imports", f"`from {module} import *` (import the names you use)")
    if not name:
        compat = CELERY_TO_COMPAT.get(module)
        if compat is not None:
            return ok("imports", f"migrate rewrites its attribute uses to {compat}")
        return _kept(module, "") or unknown("imports", f"module {module}")
    qual = f"{module}.{name}"
    if kind_of(qual) == "app_class":
        return _APP_CLASS
    if qual in CELERY_TO_COMPAT:  # from celery import schedules: a module
        return ok(
            "imports",
            f"a module: migrate moves it to {CELERY_TO_COMPAT[qual]} when every name used "
            "from it is offered there, else it stays whole",
        )
    compat, why = destination(module, name)
    if compat is not None:
        return ok("imports", f"offered by {compat}: migrate moves the import")
    if compat_module_for(module, name, include_app=True) is not None:
        return ok("imports", f"kept on Celery by migrate: {why}")
    same = _SAME_AS.get(module)
    if same is not None and compat_module_for(same, name) is not None:
        return ok("imports", f"offered by {COMPAT} ({module} is not rewritten: import it there)")
    if module == "celery.signals" and name in SIGNALS:
        return signal(name)
    if name in caught_by_celerys(module):
        return ok("imports", f"kept on Celery: {CATCHES_BOTH}")
    return _kept(module, name) or _kept(qual, "") or unknown("imports", qual)
