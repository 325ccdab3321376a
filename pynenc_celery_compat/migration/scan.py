"""The audit's reader: one pass of :mod:`ast` over a module, every Celery use found.

Names are followed through imports (``from celery import shared_task as st``, ``import
celery``, ``import celery.states as s``, relative imports) and assignments, one scope per
function. What a use is (a task's ``delay``, a result's ``get``) is decided by
:mod:`.scan_values`; what each call means, by :mod:`.scan_calls`; settings and beat
entries, by :mod:`.scan_settings`. Uses that depend on other modules wait as
:class:`~.scan_values.Pending` for :mod:`.resolve`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from pynenc_celery_compat.migration import catalog as cat
from pynenc_celery_compat.migration import catalog_app as app_cat
from pynenc_celery_compat.migration import scan_calls, scan_defs, scan_exprs
from pynenc_celery_compat.migration.audit import Finding
from pynenc_celery_compat.migration.catalog import Rating
from pynenc_celery_compat.migration.catalog_names import (
    KNOWN_MODULES,
    import_rating,
    is_celery,
    is_compat,
)
from pynenc_celery_compat.migration.catalog_settings import Recheck
from pynenc_celery_compat.migration.scan_scopes import Scopes, parameters
from pynenc_celery_compat.migration.scan_settings import Settings
from pynenc_celery_compat.migration.scan_values import (
    Dep,
    ModuleScan,
    Pending,
    Val,
    appish,
    from_qual,
)

_ECOSYSTEM = ("django_celery_beat", "django_celery_results")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def celeryish(module: str) -> bool:
    """A module whose imports the audit reports: Celery's, the compat layer's, and the
    Django apps that read Celery's result backend or feed its beat."""
    return is_celery(module) or is_compat(module) or module.split(".", 1)[0] in _ECOSYSTEM


class Scanner(Scopes):
    """Reads one module; :attr:`out` holds what it found."""

    def __init__(self, path: str, module: str, *, is_test: bool, is_package: bool) -> None:
        super().__init__()
        self.out = ModuleScan(path, module)
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.is_test = is_test
        self.in_task: list[bool] = []
        self.classes: list[str] = []  #: enclosing classes: "task", "other"
        self.class_names: list[str] = []
        self.values: dict[str, ast.expr] = {}  #: module-level assignments (beat schedules)
        #: module-level names changed in place since they were assigned (``X.update(…)``)
        self.mutated: set[str] = set()
        #: module-level functions (a beat schedule one of them returns)
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.settings = Settings(self)
        self.called: set[int] = set()  #: ids of Attribute nodes that are called
        self.reported: set[int] = set()  #: ids of nodes already reported
        self.decorator_calls: set[int] = set()  #: ids of decorators' calls (rated apart)
        self.seen: set[str] = set()  #: module attributes reported in this file
        #: dotted names known to be modules (``import celery.states``): their attributes
        #: are names imported from them (``celery.states.SUCCESS``), rated as imports
        self.modules: set[str] = set(KNOWN_MODULES)

    # -- the scan -----------------------------------------------------------------------------

    def scan(self, tree: ast.Module) -> ModuleScan:
        for statement in tree.body:  # defined later in the module, used earlier (by functions)
            if isinstance(statement, (*_FUNCTIONS, ast.ClassDef)):
                self.names[statement.name] = Val("qual", f"{self.module}.{statement.name}")
            if isinstance(statement, _FUNCTIONS):
                self.functions[statement.name] = statement
        self.visit(tree)
        self.settings.finish(tree)
        return self.out

    def emit(
        self,
        node: ast.AST,
        feature: str,
        api: str,
        rating: Rating,
        dep: Dep | None = None,
        by_app: dict[str, Rating] | None = None,
        *,
        recheck: Recheck | None = None,
    ) -> None:
        finding = Finding(
            path=self.out.path,
            line=getattr(node, "lineno", 0),
            column=getattr(node, "col_offset", 0),
            feature=feature,
            api=api,
            support=rating.support,
            reason=rating.reason,
            section=rating.section,
        )
        self.out.pending.append(Pending(finding, dep, by_app, recheck))
        if dep is None and by_app is None:
            self.out.related = True

    def emit_on_app(
        self, node: ast.AST, feature: str, api: str, app: Val, rate: Callable[[str], Rating]
    ) -> None:
        """A use whose rating depends on which app ``app`` is (compat or a real Celery)."""
        if app.dep is None:
            self.emit(node, feature, api, rate(app.app or app_cat.UNKNOWN_APP))
            return
        kinds = (app_cat.COMPAT_APP, app_cat.CELERY_APP, app_cat.UNKNOWN_APP)
        by_app = {kind: rate(kind) for kind in kinds}
        self.emit(node, feature, api, by_app[app_cat.UNKNOWN_APP], app.dep, by_app)

    # -- names --------------------------------------------------------------------------------

    def classify(self, node: ast.expr | None) -> Val | None:
        """What ``node`` is, as far as the audit can tell (``None``: nothing Celery's)."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            return scan_exprs.attribute_value(self, node)
        if isinstance(node, ast.Call):
            return scan_exprs.call_value(self, node)
        if isinstance(node, ast.Subscript):
            base = self.classify(node.value)
            if base is not None and base.kind == "app_tasks":
                return Val("task", app=base.app, dep=base.dep)
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return scan_exprs.pipe_value(self, node)
        if isinstance(node, ast.Await):
            return None
        return None

    def absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self.package.split(".") if self.package else []
        if level > 1:
            parts = parts[: max(0, len(parts) - (level - 1))]
        base = ".".join(parts)
        if module and base:
            return f"{base}.{module}"
        return module or base

    # -- imports ------------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            full = alias.name
            if alias.asname:
                bound, target = alias.asname, full
            else:
                bound = target = full.split(".", 1)[0]
            self.bind(bound, from_qual(target))
            parts = full.split(".")
            self.modules.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
            if not self.scopes:
                self.out.aliases[f"{self.module}.{bound}"] = target
            if celeryish(full):
                shown = f"import {full}" + (f" as {alias.asname}" if alias.asname else "")
                self.emit(node, "imports", shown, import_rating(full, ""))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = self.absolute(node.module, node.level)
        reported = celeryish(module)
        for alias in node.names:
            if alias.name == "*":
                if reported:
                    self.emit(
                        node, "imports", f"from {module} import *", import_rating(module, "*")
                    )
                continue
            qual = f"{module}.{alias.name}"
            bound = alias.asname or alias.name
            self.bind(bound, from_qual(qual, imported=True))
            if not self.scopes:
                self.out.aliases[f"{self.module}.{bound}"] = qual
            if reported:
                shown = qual + (f" as {alias.asname}" if alias.asname else "")
                self.emit(node, "imports", shown, import_rating(module, alias.name))

    # -- definitions --------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        decorated = scan_defs.decorators(self, node)
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call):
                self.decorator_calls.add(id(decorator))
            self.visit(decorator)
        task = decorated.task
        # a parameter shadows the module's name (``def init_app(app)`` is not its app)
        scope: dict[str, Val | None] = dict.fromkeys(parameters(node.args))
        params = [*node.args.posonlyargs, *node.args.args]
        in_class = self.classes[-1] if self.classes else ""
        if task is not None and task.bind and params:
            scope[params[0].arg] = Val("self", dep=task.dep)
        elif in_class == "task" and params:
            scope[params[0].arg] = Val("self")
        elif decorated.sender is not None and params:
            scope[params[0].arg] = decorated.sender
        if self.is_test:
            scan_defs.fixtures(self, node, [*params, *node.args.kwonlyargs], scope)
        if task is not None and not self.scopes and not self.classes:
            qual = f"{self.module}.{node.name}"
            self.out.tasks[qual] = task.dep
            self.names[node.name] = Val("task", qual, task.app, task.dep)
        elif task is not None:
            self.bind(node.name, Val("task", app=task.app, dep=task.dep))
        is_run = in_class == "task" and node.name == "run"
        self.scopes.append(scope)
        self.in_task.append(task is not None or is_run or bool(self.in_task and self.in_task[-1]))
        saved = self.classes, self.class_names
        self.classes, self.class_names = [], []
        for statement in node.body:
            self.visit(statement)
        self.classes, self.class_names = saved
        self.in_task.pop()
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        kind = scan_defs.class_kind(self, node)
        self.decorator_calls.update(id(d) for d in node.decorator_list if isinstance(d, ast.Call))
        for expression in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(expression)
        self.classes.append(kind)
        self.class_names.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.class_names.pop()
        self.classes.pop()

    # -- assignments --------------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        val = self.classify(node.value)
        for target in node.targets:
            self.assign(target, node.value, val, node)
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.assign(node.target, node.value, self.classify(node.value), node)
            self.visit(node.value)

    def assign(self, target: ast.expr, value: ast.expr, val: Val | None, node: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            name = target.id
            at_module = not self.scopes and not self.classes
            if val is not None and val.kind == "app" and at_module and not val.dep:
                qual = f"{self.module}.{name}"
                self.out.apps[qual] = val.app
                if val.own:
                    self.out.own_apps.add(qual)
                val = Val("app", qual, val.app, own=val.own)
            if val is not None and val.kind == "task" and at_module:
                self.out.tasks[f"{self.module}.{name}"] = val.dep
            if at_module:
                self.values[name] = value
                self.settings.beat.module_value(f"{self.module}.{name}", value)
                if val is not None and val.kind == "qual":
                    self.out.aliases[f"{self.module}.{name}"] = val.qual
                self.settings.module_level(name, value, node)
                if name == "pytest_plugins":
                    scan_defs.pytest_plugins(self, value)
            elif self.classes and not self.scopes:
                owner = f"{self.module}.{'.'.join(self.class_names)}"
                self.settings.class_level(owner, name, value, node)
            if not self.classes or self.scopes:
                self.bind(name, val)
        elif isinstance(target, ast.Attribute):
            self.settings.attribute(target, value, node)
            self.visit(target.value)
        elif isinstance(target, ast.Subscript):
            if isinstance(target.value, ast.Name) and not self.scopes:
                self.mutated.add(target.value.id)
            self.settings.item(target, value, node)
            self.visit(target.value)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.assign(element, value, None, node)

    # -- uses ---------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            self.called.add(id(node.func))
        scan_calls.call(self, node)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            scan_calls.attribute_read(self, node)
        self.visit(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.BitOr) and id(node) not in self.reported:
            val = scan_exprs.pipe_value(self, node)
            if val is not None:
                inner = node.left
                while isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.BitOr):
                    self.reported.add(id(inner))  # a | b | c is one chain
                    inner = inner.left
                self.emit(node, "canvas", "sig | sig", cat.CANVAS["|"], val.dep)
        self.generic_visit(node)

    def in_task_body(self) -> bool:
        return bool(self.in_task and self.in_task[-1])

    def app_for_name(self, node: ast.expr) -> Val | None:
        """An app the audit cannot trace, by the name a project gives it, in a module that
        uses Celery (``celery = make_celery(flask_app)``, then ``@celery.task``)."""
        if isinstance(node, ast.Name) and appish(node.id):
            return Val("app", node.id, app_cat.UNKNOWN_APP, ("related", self.module))
        return None


def scan_module(
    tree: ast.Module, *, path: str, module: str, is_test: bool, is_package: bool
) -> ModuleScan:
    """What ``tree`` (the module ``module`` read from ``path``) holds."""
    return Scanner(path, module, is_test=is_test, is_package=is_package).scan(tree)
