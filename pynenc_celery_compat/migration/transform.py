"""The libcst transformer behind :func:`~.rewrite.migrate_source`.

``from celery… import`` statements are decided here, name by name (the compat module for
each from :func:`~.offered.compat_module_for`); ``import celery…`` statements and their
uses are planned by :mod:`.uses` and applied here. A statement that gains a sibling (a
split ``from`` import, an added ``import pynenc_celery_compat``) gets it on the next line,
at the same indentation, or after a ``;`` when it shared its line with other statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    ExpressionContextProvider,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    ScopeProvider,
)

from pynenc_celery_compat.migration import from_modules, split, uses
from pynenc_celery_compat.migration.offered import compat_module_of, destination
from pynenc_celery_compat.migration.rewrite import NOT_OFFERED, STAR, Kept, Moved


class ParseFailure(Exception):
    """libcst could not parse the module."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Result:
    code: str
    moved: list[Moved]
    kept: list[Kept]


def rewrite_module(text: str, *, include_app: bool) -> Result:
    """Rewrite the Celery imports of ``text`` (no BOM). :raises ParseFailure:"""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        raise ParseFailure(error.raw_line, error.message) from None
    if "\f" in text and module.code != text:
        # libcst drops a form feed that starts a line of code: refuse rather than lose it
        line = _first_difference(text, module.code)
        raise ParseFailure(
            line,
            "a form feed starts a line of code, which libcst would drop; put it on a line "
            "of its own (as page breaks usually are) or leave the file out with --exclude",
        )
    # freshly parsed and not shared: no need for the wrapper's defensive deep copy
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    imports, from_imports = _import_statements(wrapper.module)
    needs_scopes = any(_imports_celery_module(n) for n in imports)
    if needs_scopes or from_modules.needs_plan(from_imports):
        # one batched walk for the providers that can share it (cached in the wrapper)
        wrapper.resolve_many(
            [ScopeProvider, ParentNodeProvider, ExpressionContextProvider, PositionProvider]
        )
    plan = (
        uses.plan_module_imports(wrapper, include_app=include_app)
        if needs_scopes
        else uses.ImportPlan()
    )
    from_plan = (
        from_modules.plan_from_imports(
            wrapper,
            uses.exported_names(wrapper.module),
            from_imports,
            include_app=include_app,
        )
        if from_modules.needs_plan(from_imports)
        else from_modules.FromPlan()
    )
    transformer = _Transformer(plan, from_plan, include_app=include_app)
    if plan.replacements:
        transformer.descend = _ancestors(plan.replacements, wrapper.resolve(ParentNodeProvider))
    migrated = wrapper.visit(transformer)
    moved = [*plan.moved, *transformer.moved]
    return Result(migrated.code, moved, [*plan.kept, *from_plan.notes, *transformer.kept])


def _first_difference(text: str, code: str) -> int:
    """The number of the first line where ``code`` differs from ``text``."""
    lines = zip(text.split("\n"), code.split("\n"), strict=False)  # not at form feeds
    for number, (ours, theirs) in enumerate(lines, 1):
        if ours != theirs:
            return number
    return 1


def _ancestors(
    nodes: Iterable[cst.CSTNode], parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> set[cst.CSTNode]:
    """``nodes`` and every node above them."""
    found: set[cst.CSTNode] = set()
    for node in nodes:
        current: cst.CSTNode | None = node
        while current is not None and current not in found:
            found.add(current)
            current = parents.get(current)
    return found


class _Transformer(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self, plan: uses.ImportPlan, from_plan: from_modules.FromPlan, *, include_app: bool
    ) -> None:
        super().__init__()
        self.plan = plan
        self.from_plan = from_plan
        self.include_app = include_app
        self.moved: list[Moved] = []
        self.kept: list[Kept] = []
        #: the expressions holding a use to rewrite (the others are not walked into: most
        #: of a module is expressions, and imports are statements)
        self.descend: set[cst.CSTNode] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.BaseExpression) and node not in self.descend:
            return False
        return super().on_visit(node)

    # uses of ``import celery…`` names
    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self._replace(original_node, updated_node)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        return self._replace(original_node, updated_node)

    def _replace(
        self, original: cst.Name | cst.Attribute, updated: cst.Name | cst.Attribute
    ) -> cst.BaseExpression:
        compat = self.plan.replacements.get(original)
        if compat is None:
            return updated
        return _dotted(compat).with_changes(lpar=updated.lpar, rpar=updated.rpar)

    # statements: a small statement may become several
    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        body = self._statements(original_node.body, updated_node.body)
        if len(original_node.body) == 1 and len(body) > 1:
            # one statement on its line: each new statement on a line of its own, after it
            first = updated_node.with_changes(body=[body[0]])
            # a pragma at the end of the line (noqa, type: ignore) silenced something about
            # the names: it goes with each new statement too
            comment = updated_node.trailing_whitespace.comment
            ending = updated_node.trailing_whitespace if split.is_pragma(comment) else None
            rest = [
                cst.SimpleStatementLine(body=[statement])
                if ending is None
                else cst.SimpleStatementLine(body=[statement], trailing_whitespace=ending)
                for statement in body[1:]
            ]
            return cst.FlattenSentinel([first, *rest])
        return updated_node.with_changes(body=body)

    def leave_SimpleStatementSuite(
        self, original_node: cst.SimpleStatementSuite, updated_node: cst.SimpleStatementSuite
    ) -> cst.SimpleStatementSuite:
        return updated_node.with_changes(
            body=self._statements(original_node.body, updated_node.body)
        )

    def _statements(
        self,
        originals: Sequence[cst.BaseSmallStatement],
        updated: Sequence[cst.BaseSmallStatement],
    ) -> list[cst.BaseSmallStatement]:
        body: list[cst.BaseSmallStatement] = []
        for original, statement in zip(originals, updated, strict=True):
            if isinstance(original, cst.ImportFrom) and isinstance(statement, cst.ImportFrom):
                pieces = self._from_import(original, statement)
            elif isinstance(original, cst.Import) and isinstance(statement, cst.Import):
                pieces = self._import(original, statement)
            else:
                pieces = [statement]
            if len(pieces) > 1:
                # the explicit ";" of the statement (if any) ends its last piece
                last_semicolon = pieces[0].semicolon
                pieces = [
                    *(p.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for p in pieces[:-1]),
                    pieces[-1].with_changes(semicolon=last_semicolon),
                ]
            body.extend(pieces)
        return body

    def _from_import(
        self, original: cst.ImportFrom, statement: cst.ImportFrom
    ) -> list[cst.BaseSmallStatement]:
        if original.relative or original.module is None:
            return [statement]  # relative: the project's own module (``from .celery import app``)
        module = get_full_name_for_node(original.module) or ""
        if not (module == "celery" or module.startswith("celery.")):
            return [statement]
        line = self._line(original)
        if isinstance(original.names, cst.ImportStar):
            self.kept.append(Kept(line, module, "*", STAR))
            return [statement]
        # target module -> indexes of its names ("" for the names that stay on Celery)
        groups: dict[str, list[int]] = {"": []}
        for index, alias in enumerate(original.names):
            name = get_full_name_for_node(alias.name) or ""
            target, reason = _target(module, name, include_app=self.include_app)
            if target is not None and alias in self.from_plan.stays:
                target, reason = None, self.from_plan.stays[alias]
            alias_line = self._line(alias)
            if target is None:
                self.kept.append(Kept(alias_line, module, name, reason))
            else:
                self.moved.append(Moved(alias_line, module, name, target))
            groups.setdefault(target or "", []).append(index)
        if len(groups) == 1:
            return [statement]
        if not groups[""]:
            del groups[""]
        assert statement.module is not None
        celery_module = statement.module
        pieces = [
            (_dotted(target) if target else celery_module, indexes)
            for target, indexes in groups.items()
        ]
        if len(pieces) == 1:
            return [split.realign(statement, statement.with_changes(module=pieces[0][0]))]
        return [
            split.unwrap_single(split.realign(statement, piece))
            for piece in split.split_from(statement, pieces)
        ]

    def _import(self, original: cst.Import, statement: cst.Import) -> list[cst.BaseSmallStatement]:
        renamed = False
        names: list[cst.ImportAlias] = []
        for original_alias, alias in zip(original.names, statement.names, strict=True):
            change = self.plan.renamed.get(original_alias)
            if change is None:
                names.append(alias)
                continue
            dotted, keep_as = change
            renamed = True
            names.append(
                alias.with_changes(name=_dotted(dotted), asname=alias.asname if keep_as else None)
            )
        if renamed:  # an alias renamed to what an earlier one of the statement imports goes
            seen: set[tuple[str, str | None]] = set()
            unique: list[cst.ImportAlias] = []
            for alias in names:
                key = (get_full_name_for_node(alias.name) or "", alias.evaluated_alias)
                if key not in seen:
                    seen.add(key)
                    unique.append(alias)
            names = [*unique[:-1], unique[-1].with_changes(comma=names[-1].comma)]
        first = statement.with_changes(names=names) if renamed else statement
        extra = self.plan.extra.get(original, [])
        return [first, *(cst.Import(names=[cst.ImportAlias(name=_dotted(m))]) for m in extra)]

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line


def _target(module: str, name: str, *, include_app: bool) -> tuple[str | None, str]:
    """Where ``from module import name`` moves to: the compat module offering ``name``, or,
    for a Celery module that has a compat module of the same name (``from
    celery.contrib.testing import worker``), the compat module's package; else ``None``
    and why it stays."""
    target, reason = destination(module, name, include_app=include_app)
    if target is not None or reason != NOT_OFFERED:
        return target, reason
    compat = compat_module_of(f"{module}.{name}")
    if compat is not None and "." in compat:
        package, last = compat.rsplit(".", 1)
        if last == name:
            return package, ""
    return None, reason


def _dotted(name: str) -> cst.Attribute | cst.Name:
    expression = cst.parse_expression(name)
    assert isinstance(expression, cst.Attribute | cst.Name)
    return expression


def _import_statements(module: cst.Module) -> tuple[list[cst.Import], list[cst.ImportFrom]]:
    """Every ``import`` and ``from … import`` statement of ``module`` (expressions, which
    never hold one, are not walked into)."""
    imports: list[cst.Import] = []
    from_imports: list[cst.ImportFrom] = []

    class _Collect(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.Import):
                imports.append(node)
                return False
            if isinstance(node, cst.ImportFrom):
                from_imports.append(node)
                return False
            return not isinstance(node, cst.BaseExpression)

    module.visit(_Collect())
    return imports, from_imports


def _imports_celery_module(node: cst.Import) -> bool:
    for alias in node.names:
        dotted = get_full_name_for_node(alias.name) or ""
        if dotted == "celery" or dotted.startswith("celery."):
            return True
    return False
