"""Where names live while the audit reads a module (see :mod:`.scan`): the module's
bindings, one scope per function, and the locals that shadow a module's name (a parameter,
a loop's, a ``with``'s, an ``except``'s or a comprehension's target: ``def init_app(app)``
is not the module's Celery app)."""

from __future__ import annotations

import ast

from pynenc_celery_compat.migration.scan_values import Val


def parameters(args: ast.arguments) -> list[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return [arg.arg for arg in every if arg is not None]


class Scopes(ast.NodeVisitor):
    """Bindings, and the visitors of the statements and expressions that make locals."""

    def __init__(self) -> None:
        self.names: dict[str, Val] = {}  #: module-level bindings
        #: function scopes, innermost last (``None``: a local that is nothing Celery's)
        self.scopes: list[dict[str, Val | None]] = []

    def classify(self, node: ast.expr | None) -> Val | None:
        """What ``node`` is (the scanner's)."""
        raise NotImplementedError

    def bind(self, name: str, val: Val | None) -> None:
        if self.scopes:
            self.scopes[-1][name] = val  # None shadows the module's name
        elif val is None:
            self.names.pop(name, None)
        else:
            self.names[name] = val

    def bind_targets(self, target: ast.AST | None) -> None:
        """Names a loop, ``with`` or ``except`` binds to values the audit does not follow."""
        for node in ast.walk(target) if target is not None else ():
            if isinstance(node, ast.Name):
                self.bind(node.id, None)

    def lookup(self, name: str) -> Val | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.names.get(name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        self.scopes.append(dict.fromkeys(parameters(node.args)))
        self.visit(node.body)
        self.scopes.pop()

    def comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        """A comprehension's targets are its own (``[app.name for app in apps]``)."""
        self.scopes.append({})
        for generator in node.generators:
            self.visit(generator.iter)
            self.bind_targets(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = comprehension

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.bind_targets(node.target)
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bind(node.name, None)
        for statement in node.body:
            self.visit(statement)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.bind(node.target.id, self.classify(node.value))
        self.visit(node.value)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if isinstance(item.optional_vars, ast.Name):
                self.bind(item.optional_vars.id, self.classify(item.context_expr))
            else:
                self.bind_targets(item.optional_vars)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With
