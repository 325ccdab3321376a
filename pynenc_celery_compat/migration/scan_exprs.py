"""What an expression is, as far as the audit can tell: an app, a task, a signature, a
result… (see :mod:`.scan`; the findings uses make: :mod:`.scan_calls`)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pynenc_celery_compat.migration import catalog_app as app_cat
from pynenc_celery_compat.migration.scan_values import (
    Val,
    from_qual,
    is_other_library,
    maybe_app,
    task_candidate,
)

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.scan import Scanner

_SIG_METHODS = frozenset({"s", "si", "signature", "subtask", "map", "starmap", "chunks"})
_RESULT_METHODS = frozenset({"delay", "apply_async", "AsyncResult"})
#: methods taken as a task's on a receiver the audit cannot trace, in a module using Celery
ANONYMOUS = frozenset({"delay", "apply_async"})
#: members that make a name of the project's code an app, if the audit saw it made one
_APP_VALUES = frozenset({"conf", "control", "tasks", "Task", *app_cat.APP_SIGNALS})


def attribute_value(s: Scanner, node: ast.Attribute) -> Val | None:
    base = s.classify(node.value)
    if base is None:
        return None
    attr, kind = node.attr, base.kind
    if kind == "qual" and attr in _APP_VALUES:
        base = maybe_app(base) or base  # cel.conf, cel.control of an app under any name
        kind = base.kind
    if kind == "qual":
        return from_qual(f"{base.qual}.{attr}", base.dep)
    if kind == "app":
        if attr in ("conf", "control"):
            return Val(attr, app=base.app, dep=base.dep)
        if attr == "tasks":
            return Val("app_tasks", app=base.app, dep=base.dep)
        if attr in app_cat.APP_SIGNALS:
            return Val("app_signal", attr, base.app, base.dep)
        if attr == "Task":
            return Val("task_class", app=base.app, dep=base.dep)
        return None
    if kind in ("self", "task") and attr == "request":
        return Val("request", dep=base.dep)
    if kind == "self" and attr == "app":
        return Val("app", app=app_cat.UNKNOWN_APP, dep=base.dep)
    if kind == "schedule":
        return Val("schedule", f"{base.qual}.{attr}")
    return None


def call_value(s: Scanner, node: ast.Call) -> Val | None:
    func = node.func
    if not isinstance(func, ast.Attribute):
        return callable_value(node, s.classify(func))
    method = func.attr
    base = s.classify(func.value)
    if base is None:
        if method in ANONYMOUS and anonymous(func.value):
            return Val("result", dep=("related", s.module))
        return None
    kind = base.kind
    candidate, dep = task_candidate(base, method)
    if candidate and (method in _SIG_METHODS or method in _RESULT_METHODS or method == "apply"):
        if method in _SIG_METHODS:
            return Val("sig", dep=dep)
        return Val("eager_result" if method == "apply" else "result", dep=dep)
    if kind == "qual":
        return callable_value(node, from_qual(f"{base.qual}.{method}", base.dep))
    if kind == "sig":
        if method in ("delay", "apply_async", "freeze"):
            return Val("result", dep=base.dep)
        if method == "apply":
            return Val("eager_result", dep=base.dep)
        if method in ("set", "clone", "on_error", "link", "link_error", "s", "si", "group"):
            return Val("sig", dep=base.dep)
    if kind == "result_class" and method == "restore":
        return Val("result", dep=base.dep)
    if kind == "app_tasks" and method == "get" and node.args:
        return Val("task", app=base.app, dep=base.dep)  # app.tasks.get(name)
    if kind == "app":
        if method in ("AsyncResult", "send_task", "GroupResult"):
            return Val("result", dep=base.dep)
        if method == "signature":
            return Val("sig", dep=base.dep)
        if method == "task" and node.args:
            return Val("task", app=base.app, dep=base.dep)
    return None


def anonymous(receiver: ast.expr) -> bool:
    """A receiver the audit cannot trace that may still be a task (``task.delay()`` on a
    parameter or a local): not one reached through ``self`` or ``cls`` (an object's own
    pool or helper)."""
    while isinstance(receiver, ast.Attribute):
        receiver = receiver.value
    return isinstance(receiver, ast.Name) and receiver.id not in ("self", "cls")


def callable_value(node: ast.Call, val: Val | None) -> Val | None:
    if val is None:
        return None
    kind = val.kind
    if kind == "qual" and is_other_library(val.qual):
        return Val("other")  # a pool, a thread: not to be taken for a task
    if kind == "app_class":
        return Val("app", app=val.app, own=val.own)
    if kind == "canvas":
        return Val("sig")
    if kind == "result_class":
        return Val("result")
    if kind == "shared_task" and node.args:
        return Val("task")
    if kind == "task_class":
        return Val("task", app=val.app, dep=val.dep)
    if kind == "schedule":
        return Val("schedule", val.qual)
    return None


def pipe_value(s: Scanner, node: ast.BinOp) -> Val | None:
    sides = [s.classify(node.left), s.classify(node.right)]
    sigs = [side for side in sides if side is not None and side.kind == "sig"]
    if not sigs:
        return None
    certain = [side for side in sigs if side.dep is None]
    return Val("sig", dep=None if certain else sigs[0].dep)
