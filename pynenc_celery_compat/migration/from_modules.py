"""From-imports whose uses decide whether they move: those binding a Celery *module*
(``from celery import states``, ``from celery import exceptions as exc``, ``from
celery.contrib.testing import worker``), a compat class deriving from Celery's (``crontab``,
``group``: see :mod:`.narrowing`), and ``current_app``.

Such a name moves to the compat module only if every use of it here is an attribute that
module offers and the rewrite moves: ``states.SUCCESS`` everywhere moves ``states``; one
``states.precedence(…)`` (not in ``pynenc_celery_compat.states``) or
``exceptions.TimeoutError`` (which stays on Celery) keeps the import whole, as the module
object itself used as a value, an attribute assigned through it, a second binding of the
name, or its export in ``__all__`` do. A compat module does not re-export all of Celery's:
moving ``from celery import signals`` in front of ``signals.beat_init`` would fail with
an ``AttributeError`` when the module runs.

``current_app`` moves (the compat layer exports Celery's proxy itself), but a task declared
with ``@current_app.task`` stays a task of the current Celery app: each such use is
reported, so that nobody takes the module for migrated.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    BaseAssignment,
    CodeRange,
    ExpressionContext,
    ExpressionContextProvider,
    ImportAssignment,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    ScopeProvider,
)

from pynenc_celery_compat.migration.narrowing import CLASS_TEST, in_class_test
from pynenc_celery_compat.migration.offered import CELERY_TO_COMPAT, destination, narrower
from pynenc_celery_compat.migration.rewrite import (
    ASSIGNED,
    BARE_MODULE,
    CURRENT_APP_TASK,
    EXPORTED,
    REBOUND,
    Kept,
    module_use_stays,
)

_WRITES = (ExpressionContext.STORE, ExpressionContext.DEL)


@dataclass
class FromPlan:
    """What the uses say about from-imported Celery modules."""

    #: alias of a ``from celery… import`` binding a module -> why it stays (absent: it moves)
    stays: dict[cst.ImportAlias, str] = field(default_factory=dict)
    #: ``@current_app.task`` and the like: reported, nothing changed
    notes: list[Kept] = field(default_factory=list)


def celery_module_named(statement: cst.ImportFrom, alias: cst.ImportAlias) -> str | None:
    """``celery.states`` for ``from celery import states``: the Celery module the alias
    binds when it has a compat module, else ``None``."""
    if statement.relative or statement.module is None:
        return None
    module = get_full_name_for_node(statement.module) or ""
    name = get_full_name_for_node(alias.name) or ""
    qualified = f"{module}.{name}"
    return qualified if qualified in CELERY_TO_COMPAT else None


def needs_plan(statements: Sequence[cst.ImportFrom]) -> bool:
    """Whether ``statements`` (the module's from-imports) import a Celery module, a compat
    class deriving from Celery's, or ``current_app`` (else no scope analysis is needed for
    them)."""
    return any(_watched(statement, alias) for statement, alias in _celery_from_aliases(statements))


def plan_from_imports(
    wrapper: MetadataWrapper,
    exported: set[str],
    statements: Sequence[cst.ImportFrom],
    *,
    include_app: bool,
) -> FromPlan:
    """Decide the from-imports of ``wrapper.module`` (``statements``) whose uses matter and
    note the ``current_app.task`` uses; ``exported`` are the names in its ``__all__``."""
    plan = FromPlan()
    scopes = wrapper.resolve(ScopeProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    contexts = wrapper.resolve(ExpressionContextProvider)
    positions = wrapper.resolve(PositionProvider)
    for statement, alias in _celery_from_aliases(statements):
        if not _watched(statement, alias):
            continue
        bound = alias.evaluated_alias or alias.evaluated_name
        scope = scopes.get(statement)
        if scope is None:  # pragma: no cover - every statement has a scope
            continue
        mine = [
            a
            for a in scope.assignments[bound]
            if isinstance(a, ImportAssignment) and a.node is statement
        ]
        accesses = sorted(
            {id(r.node): r for a in mine for r in a.references}.values(),
            key=lambda r: _where(positions, r.node),
        )
        qualified = celery_module_named(statement, alias)
        if _is_narrower(statement, alias):
            for access in accesses:
                if in_class_test(access.node, parents):
                    line = _where(positions, access.node)[0]
                    plan.stays[alias] = CLASS_TEST.format(line=line)
                    break
            continue
        if qualified is None:  # current_app
            for access in accesses:
                attribute = parents.get(access.node)
                if isinstance(attribute, cst.Attribute) and attribute.attr.value == "task":
                    line = _where(positions, access.node)[0]
                    plan.notes.append(Kept(line, "celery", f"{bound}.task", CURRENT_APP_TASK))
            continue
        reason = None
        if bound in exported and scope is scopes.get(wrapper.module):
            reason = EXPORTED
        for access in accesses:
            if reason is not None:
                break
            reason = _why_it_stays(
                access.node,
                bound,
                qualified,
                access.referents,
                statement,
                parents,
                contexts,
                include_app,
            )
            if reason is not None and reason not in (BARE_MODULE, REBOUND, ASSIGNED):
                reason = module_use_stays(
                    _use_text(access.node, parents), _where(positions, access.node)[0], reason
                )
        if reason is not None:
            plan.stays[alias] = reason
    return plan


def _why_it_stays(
    node: cst.CSTNode,
    bound: str,
    qualified: str,
    referents: Collection[BaseAssignment],
    statement: cst.ImportFrom,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    contexts: Mapping[cst.CSTNode, ExpressionContext],
    include_app: bool,
) -> str | None:
    """Why one use keeps the module on Celery, or ``None``."""
    if any(not (isinstance(r, ImportAssignment) and r.node is statement) for r in referents):
        return REBOUND
    if isinstance(node, cst.SimpleString):  # a string annotation: "states.SUCCESS"
        text = str(node.evaluated_value)
        head, _, rest = text.partition(".")
        if head != bound or not rest:
            return None
        attr = rest.split(".")[0].split("[")[0]
    else:
        attribute = parents.get(node)
        if not (isinstance(attribute, cst.Attribute) and attribute.value is node):
            return BARE_MODULE
        if contexts.get(attribute) in _WRITES:
            return ASSIGNED
        attr = attribute.attr.value
        if narrower(qualified, attr) and in_class_test(attribute, parents):
            return (
                "is a class test: Celery's class matches the values of both, the compat one "
                "would miss Celery's"
            )
    compat, reason = destination(qualified, attr, include_app=include_app)
    return None if compat is not None else _short(reason, qualified)


def _short(reason: str, qualified: str) -> str:
    compat = CELERY_TO_COMPAT[qualified]
    if reason.startswith("not offered"):
        return f"is not offered by {compat}"
    return f"stays on Celery ({reason})"


def _use_text(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> str:
    if isinstance(node, cst.SimpleString):
        return str(node.evaluated_value)
    attribute = parents.get(node)
    if isinstance(attribute, cst.Attribute):
        node = attribute
    return cst.Module([]).code_for_node(node)


def _is_narrower(statement: cst.ImportFrom, alias: cst.ImportAlias) -> bool:
    module = get_full_name_for_node(statement.module) if statement.module else ""
    return narrower(module or "", alias.evaluated_name)


def _watched(statement: cst.ImportFrom, alias: cst.ImportAlias) -> bool:
    if celery_module_named(statement, alias) is not None or _is_narrower(statement, alias):
        return True
    module = get_full_name_for_node(statement.module) if statement.module else ""
    return module == "celery" and alias.evaluated_name == "current_app"


def _celery_from_aliases(
    statements: Sequence[cst.ImportFrom],
) -> list[tuple[cst.ImportFrom, cst.ImportAlias]]:
    found: list[tuple[cst.ImportFrom, cst.ImportAlias]] = []
    for node in statements:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            continue
        dotted = get_full_name_for_node(node.module) or ""
        if dotted == "celery" or dotted.startswith("celery."):
            found.extend((node, alias) for alias in node.names)
    return found


def _where(positions: Mapping[cst.CSTNode, CodeRange], node: cst.CSTNode) -> tuple[int, int]:
    if node not in positions:
        return (0, 0)
    start = positions[node].start
    return (start.line, start.column)
