"""The findings calls and attribute reads make (see :mod:`.scan`; what an expression is:
:mod:`.scan_exprs`)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pynenc_celery_compat.migration import catalog as cat
from pynenc_celery_compat.migration import catalog_app as app_cat
from pynenc_celery_compat.migration import catalog_results as res
from pynenc_celery_compat.migration import catalog_settings as rules
from pynenc_celery_compat.migration import scan_defs
from pynenc_celery_compat.migration.catalog_names import import_rating, is_celery, is_compat
from pynenc_celery_compat.migration.scan_exprs import ANONYMOUS, anonymous
from pynenc_celery_compat.migration.scan_values import (
    Dep,
    Val,
    from_qual,
    maybe_app,
    options,
    spread_api,
    task_candidate,
)

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.scan import Scanner

_PATCHABLE = frozenset({"delay", "apply_async", "s", "si", "apply", "signature", "retry"})
_RESULT_CALL = cat.ok("results", "a call's result by id, read from pynenc (compat class)")
#: methods that change a dict in place
_MUTATING = frozenset({"update", "setdefault", "pop", "popitem", "clear"})
#: methods that make a name of the project's code an app, if the audit saw it made one
_APP_METHODS = frozenset(
    {"task", "send_task", "register_task", "add_periodic_task", *app_cat.APP_MEMBERS}
    - set(cat.TASK_METHODS)
)


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
        if isinstance(func.value, ast.Name) and method in _MUTATING and not s.scopes:
            s.mutated.add(func.value.id)  # TASK_CONFIG.update(settings.X): no longer read
        if method == "update":
            _schedule_update(s, node, func.value)
        elif method in ANONYMOUS and anonymous(func.value):
            task_method(s, node, method, ("related", s.module))
        elif s.is_test and method in ("patch", "object"):
            patched(s, node)
        return
    if base.kind == "qual" and method in _APP_METHODS:
        base = maybe_app(base) or base  # cel.send_task(): an app under any name
    candidate, dep = task_candidate(base, method)
    if base.kind == "self" and method in cat.SELF_MEMBERS:
        self_member(s, node, method, base.dep)
    elif candidate and method in cat.TASK_METHODS:
        task_method(s, node, method, dep)
    elif candidate and method == "retry" and base.kind == "task":
        self_member(s, node, method, dep, owner="task")
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


def _schedule_update(s: Scanner, node: ast.Call, holder: ast.expr) -> None:
    """``SCHEDULE.update({…})`` of a module's schedule, ``app.conf.beat_schedule.update``."""
    if isinstance(holder, ast.Name) and rules.canonical(holder.id) == "beat_schedule":
        s.settings.beat.add_update(holder.id, node)
    elif isinstance(holder, ast.Attribute) and rules.canonical(holder.attr) == "beat_schedule":
        conf = s.classify(holder.value)
        if conf is not None and conf.kind == "conf":
            s.settings.beat.conf_update(node, conf.dep)


def task_method(s: Scanner, node: ast.Call, method: str, dep: Dep | None) -> None:
    feature, rating = cat.TASK_METHODS[method]
    s.emit(node, feature, f".{method}()", rating, dep)
    if method == "apply_async":
        call_options(s, node, ".apply_async", dep)


def call_options(s: Scanner, node: ast.Call, api: str, dep: Dep | None) -> None:
    for name, where, value in options(s.values, s.mutated, node):
        if name is None:
            s.emit(where, "calling", spread_api(api, value), cat.UNREAD_OPTIONS["calling"], dep)
        else:
            s.emit(where, "calling", f"{api}({name}=)", cat.call_option(name), dep)


#: ``Task.retry``'s positional parameters
_RETRY_PARAMETERS = ("args", "kwargs", "exc", "throw", "eta", "countdown", "max_retries")


def self_member(
    s: Scanner, node: ast.Call, method: str, dep: Dep | None, owner: str = "self"
) -> None:
    """A member of a running task: ``self.retry()``, or ``task.retry()`` called on the
    task object inside its own body (Celery's retry of the current request)."""
    feature, rating = cat.SELF_MEMBERS[method]
    s.emit(node, feature, f"{owner}.{method}()", rating, dep)
    if method != "retry":
        return
    given = [
        (name, arg, arg)
        for name, arg in zip(_RETRY_PARAMETERS, node.args, strict=False)
        if not (isinstance(arg, ast.Constant) and arg.value is None)
    ]
    for name, where, value in [*given, *options(s.values, s.mutated, node)]:
        if name is None:
            api = spread_api(f"{owner}.retry", value)
            s.emit(where, "calling", api, cat.UNREAD_OPTIONS["calling"], dep)
        else:
            thrown = name == "throw" and isinstance(value, ast.Constant) and value.value is True
            option = cat.RETRY_THROWN if thrown else cat.retry_option(name)
            s.emit(where, "calling", f"{owner}.retry({name}=)", option, dep)


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
        s.settings.beat.solar_calls.append(node)
    elif kind == "start_worker":
        compat = is_compat(val.qual)
        rating = app_cat.START_WORKER if compat else app_cat.CELERYS_START_WORKER
        s.emit(node, "testing", "start_worker()", rating)
    elif kind == "allow_join":
        s.emit(node, "results", "allow_join_result()", res.ALLOW_JOIN)
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
    """``patch("pkg.tasks.send.delay")``, ``patch.object(send, "delay")``: a Celery use
    when what is patched is a task (an rq job's ``delay`` is not)."""
    for index, arg in enumerate(node.args[:2]):
        text = arg.value if isinstance(arg, ast.Constant) else None
        if not isinstance(text, str) or text.rpartition(".")[2] not in _PATCHABLE:
            continue
        if index == 0:
            owner: Val | None = from_qual(text.rpartition(".")[0])
            shown = f"patch({text!r})"
        else:
            owner = s.classify(node.args[0])
            shown = f"patch.object(…, {text!r})"
        candidate, dep = task_candidate(owner, "delay") if owner is not None else (False, None)
        if candidate:
            s.emit(node, "testing", shown, app_cat.PATCHED, dep)
        elif owner is None:  # a receiver the audit cannot trace, in a module using Celery
            s.emit(node, "testing", shown, app_cat.PATCHED, ("related", s.module))
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
        _app_member(s, node, base, attr, f"app.{attr}")


# -- by receiver -------------------------------------------------------------------------------


def _on_app(s: Scanner, node: ast.Call, app: Val, method: str) -> None:
    if method == "task":
        if node.args:
            scan_defs.task_decorator(s, node, node, app)
    elif method == "config_from_object":
        s.settings.config_from_object(node, app)
    elif method == "add_periodic_task":
        s.settings.beat.add_periodic_task(node, app)
    elif method == "send_task":
        s.emit_on_app(node, "calling", "app.send_task()", app, app_cat.send_task)
        call_options(s, node, "app.send_task", app.dep)
    elif method == "register_task":
        s.emit_on_app(node, "app", "app.register_task()", app, app_cat.register_task)
    elif method in app_cat.APP_VALUES or _private(method):
        return
    elif not (app.own and method not in app_cat.APP_MEMBERS):
        _app_member(s, node, app, method, f"app.{method}()")


def _app_member(s: Scanner, node: ast.expr, app: Val, name: str, api: str) -> None:
    """A member of an app. One the audit does not know counts on an app it saw made
    only: ``app`` imported from code it did not read may be a web framework's
    (``app.run()``, ``app.config``)."""
    if name == "pynenc":
        s.emit_on_app(node, "app", api, app, app_cat.pynenc_member)
        return
    feature, rating = app_cat.app_member(name)
    dep = app.dep
    if name not in app_cat.APP_MEMBERS and dep is not None and dep[0] in ("app", "app!"):
        dep = ("member", dep[1])
    s.emit(node, feature, api, rating, dep)


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
