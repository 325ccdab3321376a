"""Definitions the audit reads: task decorators and their options, class-based tasks,
signal handlers, pytest fixtures and plugins (see :mod:`.scan`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pynenc_celery_compat.migration import catalog as cat
from pynenc_celery_compat.migration import catalog_app as app_cat
from pynenc_celery_compat.migration.catalog_names import is_compat
from pynenc_celery_compat.migration.scan_values import Dep, Val, maybe_app, options, spread_api

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.scan import Scanner

SHARED_TASK = cat.ok("decorators", "a compat task (a celery.Task subclass) where the function was")
_BASE_CLASS = cat.ok(
    "decorators", "a base= class: combined with the compat class, its hooks run on the runner"
)
_COMPAT_CLASS_TASK = cat.ok(
    "decorators", "a class-based compat task: register it on the app (app.register_task)"
)
_HOOKS = frozenset(
    {"on_failure", "on_success", "on_retry", "after_return", "before_start", "__call__"}
)


@dataclass(frozen=True)
class TaskInfo:
    """A function made a task: whether it is bound, and what that depends on."""

    bind: bool
    dep: Dep | None
    app: str


def _truth(node: ast.expr) -> bool | None:
    return bool(node.value) if isinstance(node, ast.Constant) else None


@dataclass(frozen=True)
class Decorated:
    """What a function's decorators make of it: a task, or a handler of an app's signal
    (whose ``sender`` is the app: ``sender.add_periodic_task(…)``)."""

    task: TaskInfo | None = None
    sender: Val | None = None


def decorators(s: Scanner, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Decorated:
    """The findings of a function's decorators, and what they make of it."""
    task = sender = None
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call is not None else decorator
        if isinstance(target, ast.Attribute) and target.attr == "task":
            app = s.classify(target.value) or s.app_for_name(target.value)
            if app is not None and app.kind == "qual":
                app = maybe_app(app)  # @cel.task on an app under any name
            if app is not None and app.kind == "app":
                task = task_decorator(s, decorator, call, app)
            continue
        if isinstance(target, ast.Attribute) and target.attr == "connect":
            signal = s.classify(target.value)
            if signal is not None:
                connect(s, decorator, signal)
                if signal.kind == "app_signal":
                    sender = Val("app", app=signal.app, dep=signal.dep)
            continue
        val = s.classify(target)
        if val is None:
            continue
        if val.kind == "shared_task":
            task = task_decorator(s, decorator, call, None)
        elif val.kind == "qual":
            _other_decorator(s, node, decorator, call, val.qual)
    return Decorated(task, sender)


def _other_decorator(
    s: Scanner,
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    decorator: ast.expr,
    call: ast.Call | None,
    qual: str,
) -> None:
    if qual == "pytest.mark.celery":
        s.emit(decorator, "testing", "@pytest.mark.celery", app_cat.CELERY_MARK)
    elif qual == "django.dispatch.receiver" and call is not None and call.args:
        # @receiver(signals.task_received): Django connects Celery's signal
        first = call.args[0]
        for item in first.elts if isinstance(first, ast.List | ast.Tuple) else [first]:
            signal = s.classify(item)
            if signal is not None and signal.kind == "signal":
                connect(s, decorator, signal)
    elif qual.startswith("pytest.fixture") and node.name in app_cat.PYTEST_FIXTURES:
        rating = app_cat.PYTEST_FIXTURES[node.name]
        s.emit(node, "testing", f"fixture {node.name} (defined)", rating)


def task_decorator(
    s: Scanner, decorator: ast.expr, call: ast.Call | None, app: Val | None
) -> TaskInfo:
    """``@shared_task``, ``@app.task`` (with ``call``: its options), or the same called on
    a function (``shared_task(fun, name=…)``)."""
    called = call is not None and bool(call.args)
    if app is None:
        api = "shared_task()" if called else "@shared_task"
        s.emit(decorator, "decorators", api, SHARED_TASK)
    else:
        api = "app.task()" if called else "@app.task"
        s.emit_on_app(decorator, "decorators", api, app, app_cat.app_task)
    dep = app.dep if app is not None else None
    bind = False
    for name, where, value in options(s.values, s.mutated, call) if call is not None else ():
        if name is None:
            unread = cat.UNREAD_OPTIONS["decorators"]
            s.emit(where, "decorators", spread_api(api, value), unread, dep)
            continue
        truth = _truth(value)
        if name == "bind":
            bind = truth is True
        rating = cat.task_option(name, truth)
        s.emit(where, "decorators", f"{api}({name}=)", rating, dep)
    return TaskInfo(bind, dep, app.app if app is not None else app_cat.COMPAT_APP)


def connect(s: Scanner, node: ast.expr, signal: Val) -> None:
    """A handler connected to a Celery signal or to an app's signal."""
    if signal.kind == "signal":
        rating = app_cat.signal(signal.qual)
        s.emit(node, "signals", f"{signal.qual}.connect", rating, signal.dep)
    elif signal.kind == "app_signal":
        rating = app_cat.APP_SIGNALS[signal.qual]
        s.emit(node, "app", f"app.{signal.qual}.connect", rating, signal.dep)


def class_kind(s: Scanner, node: ast.ClassDef) -> str:
    """``"task"`` for a subclass of Celery's ``Task`` (its findings made), else
    ``"other"`` (a subclass of ``Celery`` is remembered as an app class)."""
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        val = s.classify(call.func if call is not None else decorator)
        if val is not None and val.kind == "qual":
            _other_decorator(s, node, decorator, call, val.qual)
    bases = [s.classify(base) for base in node.bases]
    qual = f"{s.module}.{node.name}"
    app_base = next((b for b in bases if b is not None and b.kind == "app_class"), None)
    if app_base is not None:
        s.bind(node.name, Val("app_class", qual, app_base.app, own=True))
        return "other"
    task_base = next((b for b in bases if b is not None and b.kind == "task_class"), None)
    if task_base is None:
        return "other"
    compat = task_base.app == app_cat.COMPAT_APP or is_compat(task_base.qual)
    app = app_cat.COMPAT_APP if compat else app_cat.CELERY_APP
    s.bind(node.name, Val("task_class", qual, app, task_base.dep, own=True))
    has_run = any(
        isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == "run"
        for statement in node.body
    )
    if has_run:
        rating = _COMPAT_CLASS_TASK if compat else app_cat.class_task_on_celery()
    else:
        rating = _BASE_CLASS
    shown = ", ".join(ast.unparse(base) for base in node.bases)
    s.emit(node, "decorators", f"class {node.name}({shown})", rating, task_base.dep)
    for statement in node.body:
        _class_member(s, node.name, statement, task_base.dep)
    return "task"


def _class_member(s: Scanner, owner: str, statement: ast.stmt, dep: Dep | None) -> None:
    if isinstance(statement, ast.Assign | ast.AnnAssign):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id in cat.TASK_OPTIONS:
                truth = _truth(statement.value) if statement.value is not None else None
                rating = cat.task_option(target.id, truth)
                s.emit(statement, "decorators", f"{owner}.{target.id}", rating, dep)
    elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name in _HOOKS:
        rating = cat.TASK_OPTIONS[statement.name]
        s.emit(statement, "decorators", f"{owner}.{statement.name}()", rating, dep)


def fixtures(
    s: Scanner,
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    params: list[ast.arg],
    scope: dict[str, Val | None],
) -> None:
    """Celery's pytest fixtures taken by a test or a fixture."""
    for param in params:
        rating = app_cat.PYTEST_FIXTURES.get(param.arg)
        if rating is None:
            continue
        s.emit(param, "testing", f"fixture {param.arg}", rating)
        if param.arg in ("celery_app", "celery_session_app"):
            scope[param.arg] = Val("app", param.arg, app_cat.COMPAT_APP)


def pytest_plugins(s: Scanner, value: ast.expr) -> None:
    """``pytest_plugins = ("celery.contrib.pytest",)``."""
    items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
    for item in items:
        if not isinstance(item, ast.Constant) or not isinstance(item.value, str):
            continue
        if item.value == "celery.contrib.pytest":
            s.emit(item, "testing", "pytest_plugins celery.contrib.pytest", app_cat.CELERY_PLUGIN)
        elif item.value == "pynenc_celery_compat.contrib.pytest":
            shown = "pytest_plugins pynenc_celery_compat.contrib.pytest"
            s.emit(item, "testing", shown, app_cat.COMPAT_PLUGIN)
