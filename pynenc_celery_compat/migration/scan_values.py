"""What the scanner knows an expression to be: a Celery app, a task, a signature, a result…

The scanner follows names through imports and assignments (flow-insensitively, one scope
per function). Some answers depend on other modules (``from proj.tasks import send`` is a
task only if ``proj/tasks.py`` makes it one): those carry a :data:`Dep`, checked once every
module has been read (:mod:`.resolve`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from pynenc_celery_compat.migration.audit import Finding
from pynenc_celery_compat.migration.catalog import Rating
from pynenc_celery_compat.migration.catalog_app import CELERY_APP, COMPAT_APP, UNKNOWN_APP
from pynenc_celery_compat.migration.catalog_names import is_celery, is_compat, kind_of

#: what a use depends on: ``("task", qual)`` (``qual`` is a task), ``("app", qual)`` (a
#: Celery app), ``("related", module)`` (the module uses Celery at all), ``("config",
#: qual)`` (``qual`` is a settings module or class Celery reads)
Dep = tuple[str, str]

#: names under which projects keep their Celery app
_APP_NAMES = frozenset({"app", "celery", "celery_app", "capp", "celeryapp", "worker_app"})
_STDLIB = frozenset(sys.stdlib_module_names)


def appish(name: str) -> bool:
    """A name a project gives its Celery app (``app``, ``celery_app``, ``celery``, …)."""
    return name in _APP_NAMES or name.endswith("_app") or name.endswith("_celery")


def is_stdlib(qual: str) -> bool:
    return qual.split(".", 1)[0] in _STDLIB


@dataclass(frozen=True)
class Val:
    """What an expression is.

    ``kind``: ``qual`` (a dotted name the audit does not know as Celery's), ``app``,
    ``app_class``, ``task``, ``task_class``, ``self`` (a running task: a bound task's first
    argument, ``current_task``), ``request``, ``sig``, ``result``, ``eager_result``,
    ``conf``, ``control``, ``app_tasks``, ``signal``, ``app_signal``, ``schedule``,
    ``canvas``, ``result_class``, ``shared_task``, ``start_worker``, ``allow_join``;
    ``other``: something the audit knows is not Celery's (a standard library object).
    """

    kind: str
    #: the dotted name (``qual``, Celery objects), the signal's or member's name
    qual: str = ""
    #: which app (``app``, ``app_class``, ``task``): compat, celery or unknown
    app: str = ""
    dep: Dep | None = None
    #: an app or task class of the project's own: its members may be the project's
    own: bool = False


def from_qual(qual: str, dep: Dep | None = None, *, imported: bool = False) -> Val:
    """The value a dotted name stands for (an import, an attribute of one). A name
    ``imported`` from the project's code under an app's usual name (``from proj.celery
    import app``) may be its Celery app: :mod:`.resolve` decides."""
    kind = kind_of(qual)
    if kind is None:
        last = qual.rpartition(".")[2]
        project = not (is_celery(qual) or is_compat(qual) or is_stdlib(qual))
        if imported and project and appish(last):
            return Val("app", qual, UNKNOWN_APP, dep or ("app", qual))
        return Val("qual", qual, dep=dep)
    if kind == "app_class":
        return Val("app_class", qual, COMPAT_APP if is_compat(qual) else CELERY_APP)
    if kind == "current_app":
        return Val("app", qual, UNKNOWN_APP)
    if kind == "current_task":
        return Val("self", qual)
    if kind == "signal":
        return Val("signal", qual.rpartition(".")[2])
    return Val(kind, qual)


#: task methods no other library is likely to have: on a name imported from code the audit
#: did not read, they are taken as Celery's
DISTINCT_METHODS = frozenset(
    {"delay", "apply_async", "delay_on_commit", "apply_async_on_commit", "si", "AsyncResult"}
)


def task_candidate(val: Val, method: str) -> tuple[bool, Dep | None]:
    """Whether ``val.method(...)`` may be a task's method, and on what that depends: a task
    value as it is; a dotted name from the project's code, if it names a task (``("task",
    qual)``; ``("task!", qual)`` when it must be one the audit read, for methods as
    common as ``.s`` or ``.map``)."""
    if val.kind in ("task", "self"):
        return True, val.dep
    if val.kind != "qual" or is_celery(val.qual) or is_compat(val.qual) or is_stdlib(val.qual):
        return False, None
    return True, ("task" if method in DISTINCT_METHODS else "task!", val.qual)


@dataclass
class Pending:
    """A finding, true once its :data:`Dep` holds (``None``: already true); with
    ``by_app`` the rating depends on which app the dependency resolves to."""

    finding: Finding
    dep: Dep | None = None
    by_app: dict[str, Rating] | None = None


@dataclass
class ModuleScan:
    """What one module told the audit: its findings and what other modules may need."""

    path: str
    module: str
    pending: list[Pending] = field(default_factory=list)
    #: module-level names that stand for another module's (``proj.celery_app`` -> …)
    aliases: dict[str, str] = field(default_factory=dict)
    #: tasks it defines: qual -> what they depend on (an ``@app.task``'s app)
    tasks: dict[str, Dep | None] = field(default_factory=dict)
    #: apps it makes: qual -> compat / celery
    apps: dict[str, str] = field(default_factory=dict)
    #: modules and classes its ``config_from_object`` / ``DJANGO_SETTINGS_MODULE`` name
    config_targets: set[str] = field(default_factory=set)
    #: it imports Celery (or the compat layer), or uses it for sure
    related: bool = False
