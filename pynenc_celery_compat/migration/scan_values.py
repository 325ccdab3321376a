"""What the scanner knows an expression to be: a Celery app, a task, a signature, a result…

The scanner follows names through imports and assignments (flow-insensitively, one scope
per function). Some answers depend on other modules (``from proj.tasks import send`` is a
task only if ``proj/tasks.py`` makes it one): those carry a :data:`Dep`, checked once every
module has been read (:mod:`.resolve`).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field

from pynenc_celery_compat.migration.audit import Finding
from pynenc_celery_compat.migration.catalog import Rating
from pynenc_celery_compat.migration.catalog_app import CELERY_APP, COMPAT_APP, UNKNOWN_APP
from pynenc_celery_compat.migration.catalog_names import is_celery, is_compat, kind_of
from pynenc_celery_compat.migration.catalog_settings import Recheck

#: what a use depends on: ``("task", qual)`` (``qual`` is a task), ``("app", qual)`` (a
#: Celery app, or an app in code the audit did not read), ``("app!", qual)`` (an app the
#: audit saw made), ``("member", qual)`` (the same, not a subclass of the project's own,
#: whose members may be its own), ``("related", module)`` (the module uses Celery at all),
#: ``("config", qual)`` (``qual`` is a settings module or class Celery reads)
Dep = tuple[str, str]

#: names under which projects keep their Celery app
_APP_NAMES = frozenset({"app", "celery", "celery_app", "capp", "celeryapp", "worker_app"})
_STDLIB = frozenset(sys.stdlib_module_names)
#: packages whose ``app``, ``current_app``, ``celery`` … are not a Celery app: web frameworks
#: (Flask's ``current_app``), other task queues, integrations named after Celery
_NOT_CELERY = frozenset(
    {"flask", "quart", "werkzeug", "django", "fastapi", "starlette", "sanic", "aiohttp"}
    | {"tornado", "bottle", "pyramid", "falcon", "litestar", "connexion", "dash", "streamlit"}
    | {"trytond", "huey", "dramatiq", "rq", "arq", "taskiq", "sentry_sdk", "typer", "click"}
    | {"gunicorn", "uvicorn", "apscheduler", "kombu", "billiard", "flower", "pytest"}
)


def appish(name: str) -> bool:
    """A name a project gives its Celery app (``app``, ``celery_app``, ``celery``, …)."""
    return name in _APP_NAMES or name.endswith("_app") or name.endswith("_celery")


def is_other_library(qual: str) -> bool:
    """A name of the standard library or of a well-known library that is not Celery."""
    top = qual.split(".", 1)[0]
    return top in _STDLIB or top in _NOT_CELERY


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
        project = not (is_celery(qual) or is_compat(qual) or is_other_library(qual))
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


def maybe_app(val: Val) -> Val | None:
    """A name from the project's code used the way an app is (``cel.conf``, ``@cel.task``):
    an app when the audit saw it made (``cel = FlaskCelery("director")``)."""
    if val.kind != "qual" or is_celery(val.qual) or is_compat(val.qual):
        return None
    if is_other_library(val.qual):
        return None
    return Val("app", val.qual, UNKNOWN_APP, ("app!", val.qual))


#: a call's option: its name (``None``: options spread from a value the audit cannot read),
#: where it is written, its value
Option = tuple[str | None, ast.AST, ast.expr]


def options(values: dict[str, ast.expr], mutated: set[str], call: ast.Call) -> list[Option]:
    """A call's keyword options, with those spread from a dict the module holds
    (``**TASK_CONFIG`` where ``TASK_CONFIG = {"name": …}`` or ``dict(…)``, not changed since:
    ``TASK_CONFIG.update(settings.X)`` makes it unread)."""
    found: list[Option] = []
    for keyword in call.keywords:
        if keyword.arg is not None:
            found.append((keyword.arg, keyword, keyword.value))
            continue
        spread = keyword.value
        if isinstance(spread, ast.Name) and spread.id not in mutated:
            spread = values.get(spread.id, spread)
        if isinstance(spread, ast.Dict) and all(
            isinstance(key, ast.Constant) and isinstance(key.value, str) for key in spread.keys
        ):
            found += [
                (key.value, keyword, value)
                for key, value in zip(spread.keys, spread.values, strict=True)
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            ]
        elif isinstance(spread, ast.Call) and ast.unparse(spread.func) == "dict":
            found += [(kw.arg, keyword, kw.value) for kw in spread.keywords if kw.arg]
            if spread.args or any(kw.arg is None for kw in spread.keywords):
                found.append((None, keyword, keyword.value))
        else:
            found.append((None, keyword, keyword.value))
    return found


def spread_api(api: str, value: ast.expr) -> str:
    """How options spread from a value are shown: ``.apply_async(**options)``."""
    return f"{api}(**{ast.unparse(value)})"


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
    if (
        val.kind != "qual"
        or is_celery(val.qual)
        or is_compat(val.qual)
        or is_other_library(val.qual)
    ):
        return False, None
    return True, ("task" if method in DISTINCT_METHODS else "task!", val.qual)


@dataclass
class Pending:
    """A finding, true once its :data:`Dep` holds (``None``: already true); with
    ``by_app`` the rating depends on which app the dependency resolves to."""

    finding: Finding
    dep: Dep | None = None
    by_app: dict[str, Rating] | None = None
    #: a rating that depends on what the other modules set (a broker and no result backend)
    recheck: Recheck | None = None


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
    #: those of them made from a subclass of the project's (``FlaskCelery(Celery)``)
    own_apps: set[str] = field(default_factory=set)
    #: modules and classes its ``config_from_object`` / ``DJANGO_SETTINGS_MODULE`` name
    config_targets: set[str] = field(default_factory=set)
    #: it imports Celery (or the compat layer), or uses it for sure
    related: bool = False
    #: module-level names holding a schedule: qual -> its kind (``crontab``, ``interval``…)
    schedules: dict[str, str] = field(default_factory=dict)
    #: broker URLs it sets (literals), and whether it sets a result backend
    brokers: set[str] = field(default_factory=set)
    backend: bool = False
