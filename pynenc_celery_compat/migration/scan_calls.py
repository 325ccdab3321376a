"""What calls and attribute reads are, and the findings they make (see :mod:`.scan`)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pynenc_celery_compat.migration import catalog as cat
from pynenc_celery_compat.migration import catalog_app as app_cat
from pynenc_celery_compat.migration import catalog_results as res
from pynenc_celery_compat.migration import scan_defs
from pynenc_celery_compat.migration.catalog_names import import_rating, is_celery, is_compat
from pynenc_celery_compat.migration.scan_values import (
    Dep,
    Val,
    from_qual,
    is_stdlib,
    task_candidate,
)

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.scan import Scanner

_SIG_METHODS = frozenset({"s", "si", "signature", "subtask", "map", "starmap", "chunks"})
_RESULT_METHODS = frozenset({"delay", "apply_async", "AsyncResult"})
#: methods taken as a task's on a receiver the audit cannot trace, in a module using Celery
_ANONYMOUS = frozenset({"delay", "apply_async"})
_PATCHABLE = frozenset({"delay", "apply_async", "s", "si", "apply", "signature", "retry"})
_RESULT_CALL = cat.ok("results", "a call's result by id, read from pynenc (compat class)")


# -- values ------------------------------------------------------------------------------------


def attribute_value(s: Scanner, node: ast.Attribute) -> Val | None:
    base = s.classify(node.value)
    if base is None:
        return None
    attr, kind = node.attr, base.kind
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
        if method in _ANONYMOUS and _anonymous(func.value):
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
    if kind == "app":
        if method in ("AsyncResult", "send_task", "GroupResult"):
            return Val("result", dep=base.dep)
        if method == "signature":
            return Val("sig", dep=base.dep)
        if method == "task" and node.args:
            return Val("task", app=base.app, dep=base.dep)
    return None


def _anonymous(receiver: ast.expr) -> bool:
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
    if kind == "qual" and is_stdlib(val.qual):
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


# -- uses --------------------------------------------------------------------------------------


def call(s: Scanner, node: ast.Call) -> None:
    """The findings of one call."""
    func = node.func
    if id(node) in s.decorator_calls:  # a task's or a handler's: rated with the function
        val = s.classify(func)
        if val is not None and val.kind == "qual":
            qual_use(s, node, val.qual)  # override_settings(...)
        return
    if not isinstance(func, ast.Attribute):
        val = s.classify(func)
        if val is not None:
            callable_use(s, node, val)
        return
    method = func.attr
    base = s.classify(func.value)
    if base is None:
        if method in _ANONYMOUS and _anonymous(func.value):
            task_method(s, node, method, ("related", s.module))
        elif s.is_test and method in ("patch", "object"):
            patched(s, node)
        return
    candidate, dep = task_candidate(base, method)
    if base.kind == "self" and method in cat.SELF_MEMBERS:
        self_member(s, node, method, base.dep)
    elif candidate and method in cat.TASK_METHODS:
        task_method(s, node, method, dep)
    elif base.kind == "qual":
        val = from_qual(f"{base.qual}.{method}", base.dep)
        if val.kind != "qual":
            callable_use(s, node, val)
        else:
            qual_use(s, node, val.qual)
    else:
        handler = _HANDLERS.get(base.kind)
        if handler is not None:
            handler(s, node, base, method)


def task_method(s: Scanner, node: ast.Call, method: str, dep: Dep | None) -> None:
    feature, rating = cat.TASK_METHODS[method]
    s.emit(node, feature, f".{method}()", rating, dep)
    if method == "apply_async":
        call_options(s, node, ".apply_async", dep)


def call_options(s: Scanner, node: ast.Call, api: str, dep: Dep | None) -> None:
    for keyword in node.keywords:
        if keyword.arg is not None:
            rating = cat.call_option(keyword.arg)
            s.emit(keyword, "calling", f"{api}({keyword.arg}=)", rating, dep)


def self_member(s: Scanner, node: ast.Call, method: str, dep: Dep | None) -> None:
    feature, rating = cat.SELF_MEMBERS[method]
    s.emit(node, feature, f"self.{method}()", rating, dep)
    if method == "retry":
        for keyword in node.keywords:
            if keyword.arg is not None:
                option = cat.retry_option(keyword.arg)
                s.emit(keyword, "calling", f"self.retry({keyword.arg}=)", option, dep)


def callable_use(s: Scanner, node: ast.Call, val: Val) -> None:
    """A call of a Celery callable: the app class, a canvas, a result class, …"""
    kind, name = val.kind, val.qual.rpartition(".")[2]
    if kind == "app_class":
        s.emit(node, "app", "Celery()", app_cat.app_class(val.app))
        s.settings.celery_kwargs(node)
    elif kind == "shared_task" and node.args:
        scan_defs.task_decorator(s, node, node, None)
    elif kind == "canvas":
        s.emit(node, "canvas", f"{name}()", cat.CANVAS[name], val.dep)
    elif kind == "result_class":
        rating = _RESULT_CALL if name in ("AsyncResult", "GroupResult") else None
        module = val.qual.rpartition(".")[0]
        s.emit(node, "results", f"{name}()", rating or import_rating(module, name), val.dep)
    elif kind == "schedule" and name == "solar":
        s.settings.solar_calls.append(node)
    elif kind == "start_worker":
        s.emit(node, "testing", "start_worker()", app_cat.START_WORKER)
    elif kind == "allow_join":
        s.emit(node, "results", "allow_join_result()", res.RESULT_MEMBERS["get"])
    elif kind == "qual":
        qual_use(s, node, val.qual)


def qual_use(s: Scanner, node: ast.Call, qual: str) -> None:
    """Calls of other libraries that say something about Celery: where Django's settings
    module is, a test's ``patch`` of a task method, ``override_settings``."""
    args = node.args
    if qual.endswith("environ.setdefault") and len(args) == 2:
        key, value = (arg.value if isinstance(arg, ast.Constant) else None for arg in args)
        if key == "DJANGO_SETTINGS_MODULE" and isinstance(value, str):
            s.out.config_targets.add(value)
    elif qual.endswith("override_settings"):
        s.settings.override(node)
    elif s.is_test and (qual.endswith(".patch") or qual.endswith("patch.object")):
        patched(s, node)


def patched(s: Scanner, node: ast.Call) -> None:
    """``patch("pkg.tasks.send.delay")``, ``patch.object(send, "delay")``."""
    for index, arg in enumerate(node.args[:2]):
        text = arg.value if isinstance(arg, ast.Constant) else None
        if isinstance(text, str) and text.rpartition(".")[2] in _PATCHABLE:
            shown = f"patch({text!r})" if index == 0 else f"patch.object(…, {text!r})"
            s.emit(node, "testing", shown, app_cat.PATCHED)
            return


def attribute_read(s: Scanner, node: ast.Attribute) -> None:
    """``self.request.id``, ``result.state``, ``celery.states.SUCCESS``, ``app.backend``."""
    base = s.classify(node.value)
    if base is None:
        return
    attr, kind = node.attr, base.kind
    if kind == "qual" and (is_celery(base.qual) or is_compat(base.qual)):
        if base.qual not in s.modules:  # an attribute of a class or object, not an import
            return
        qual = f"{base.qual}.{attr}"
        if qual not in s.seen:
            s.seen.add(qual)
            s.emit(node, "imports", qual, import_rating(base.qual, attr))
        return
    if id(node) in s.called:
        return
    if kind == "request":
        s.emit(node, "calling", f"self.request.{attr}", cat.request_field(attr), base.dep)
    elif kind == "result":
        s.emit(node, "results", f"result.{attr}", res.result_member(attr), base.dep)
    elif kind == "app" and attr not in app_cat.APP_VALUES and not _private(attr):
        if base.own and attr not in app_cat.APP_MEMBERS:  # the project's own subclass
            return
        feature, rating = app_cat.app_member(attr)
        s.emit(node, feature, f"app.{attr}", rating, base.dep)


# -- by receiver -------------------------------------------------------------------------------


def _on_app(s: Scanner, node: ast.Call, app: Val, method: str) -> None:
    if method == "task":
        if node.args:
            scan_defs.task_decorator(s, node, node, app)
    elif method == "config_from_object":
        s.settings.config_from_object(node, app)
    elif method == "add_periodic_task":
        s.settings.add_periodic_task(node, app)
    elif method == "send_task":
        s.emit_on_app(node, "calling", "app.send_task()", app, app_cat.send_task)
        call_options(s, node, "app.send_task", app.dep)
    elif method == "register_task":
        s.emit_on_app(node, "app", "app.register_task()", app, app_cat.register_task)
    elif method in app_cat.APP_VALUES or _private(method):
        return
    elif not (app.own and method not in app_cat.APP_MEMBERS):
        feature, rating = app_cat.app_member(method)
        s.emit(node, feature, f"app.{method}()", rating, app.dep)


def _private(name: str) -> bool:
    """A member Celery keeps to itself (``_get_current_object``): not an API to rate."""
    return name.startswith("_")


def _on_conf(s: Scanner, node: ast.Call, conf: Val, method: str) -> None:
    if method == "update":
        s.settings.update(node, conf)


def _on_control(s: Scanner, node: ast.Call, control: Val, method: str) -> None:
    s.emit(node, "results", f"app.control.{method}()", res.control(method), control.dep)


def _on_sig(s: Scanner, node: ast.Call, sig: Val, method: str) -> None:
    if method in ("delay", "apply_async", "apply"):
        feature, rating = cat.TASK_METHODS[method]
        s.emit(node, feature, f"sig.{method}()", rating, sig.dep)
        if method == "apply_async":
            call_options(s, node, "sig.apply_async", sig.dep)
    elif method == "set":
        call_options(s, node, "sig.set", sig.dep)
    elif method in ("link", "link_error", "on_error"):
        s.emit(node, "canvas", f"sig.{method}()", cat.CANVAS[method], sig.dep)


def _on_result(s: Scanner, node: ast.Call, result: Val, method: str) -> None:
    rating = res.result_member(method)
    if method in ("get", "wait", "join", "join_native"):
        options = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        allowed = options.get("disable_sync_subtasks")
        if s.in_task_body() and not (isinstance(allowed, ast.Constant) and not allowed.value):
            rating = res.GET_IN_TASK
        for keyword in node.keywords:
            if keyword.arg is not None:
                option = res.get_option(keyword.arg)
                s.emit(keyword, "results", f".{method}({keyword.arg}=)", option, result.dep)
    s.emit(node, "results", f"result.{method}()", rating, result.dep)


def _on_result_class(s: Scanner, node: ast.Call, cls: Val, method: str) -> None:
    """``GroupResult.restore(id)``: Celery's result backend."""
    if method in ("restore", "save", "delete"):
        name = cls.qual.rpartition(".")[2]
        s.emit(node, "results", f"{name}.{method}()", res.result_member(method), cls.dep)


def _on_signal(s: Scanner, node: ast.Call, sig: Val, method: str) -> None:
    if method == "connect":
        scan_defs.connect(s, node, sig)


def _on_request(s: Scanner, node: ast.Call, request: Val, method: str) -> None:
    s.emit(node, "calling", f"self.request.{method}()", cat.request_field(method), request.dep)


_HANDLERS = {
    "app": _on_app,
    "conf": _on_conf,
    "control": _on_control,
    "sig": _on_sig,
    "result": _on_result,
    "result_class": _on_result_class,
    "signal": _on_signal,
    "app_signal": _on_signal,
    "request": _on_request,
}
