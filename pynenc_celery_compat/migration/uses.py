"""Module imports of Celery (``import celery``, ``import celery as c``, ``import
celery.states``, ``import celery.exceptions as exc``) and the attribute uses of the names
they bind: which uses move to the compat layer, and what becomes of each import.

The rule, per use (found with libcst's scope analysis, so a parameter or a local variable
that happens to be called ``celery`` is not taken for the module):

- ``celery.shared_task``, ``c.group``, ``celery.states.SUCCESS``,
  ``celery.app.task.Task``: the deepest Celery module named in the chain that has a compat
  module (``celery.states``, ``celery.app.task``, else ``celery``) is asked about the next
  name. Offered: the module part of the chain is replaced by the compat module
  (``pynenc_celery_compat.states.SUCCESS``) and ``import pynenc_celery_compat.states`` is
  added next to the Celery import. Not offered (``celery.exceptions.NotAName``,
  ``celery.utils.log``, ``celery.Celery`` without ``include_app``): kept.
- a use of the module object itself (``mock.patch.object(celery, …)``), an assignment to
  or deletion of one of its attributes, or a name bound to something else as well (``try:
  import celery`` / ``except ImportError: celery = None``): kept, unchanged.

Per import:

- an aliased import (``import celery.states as s``) whose every use moves at its first
  level (``s.SUCCESS``) is swapped whole: ``import pynenc_celery_compat.states as s``, the
  uses unchanged. (An import with no use at all is left as it is.)
- otherwise the moved uses are rewritten as above; the Celery import stays while one of
  its uses remains on Celery, and is replaced by the first compat import it needs once
  none does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
    Scope,
    ScopeProvider,
)

from pynenc_celery_compat.migration.narrowing import CLASS_TEST, in_class_test
from pynenc_celery_compat.migration.offered import (
    CELERY_TO_COMPAT,
    compat_module_of,
    destination,
    narrower,
)
from pynenc_celery_compat.migration.rewrite import (
    ASSIGNED,
    BARE_MODULE,
    CURRENT_APP_TASK,
    EXPORTED,
    IN_STRING,
    NOT_OFFERED,
    REBOUND,
    Kept,
    Moved,
)


@dataclass(eq=False)
class Binding:
    """One Celery alias of an ``import`` statement and the module object its name holds."""

    statement: cst.Import
    alias: cst.ImportAlias
    #: what the name is bound to: ``celery`` for ``import celery.states``,
    #: ``celery.states`` for ``import celery.states as s``
    module: str
    #: the name it binds (``c`` for ``import celery as c``, ``celery`` for ``import celery.states``)
    name: str
    aliased: bool
    uses: list[Use] = field(default_factory=list)


@dataclass(eq=False)
class Use:
    """One use of a bound name: where its Celery module part ends and what it becomes."""

    line: int
    bindings: list[Binding]
    #: the node standing for the Celery module (replaced by the compat module), if moved
    prefix: cst.BaseExpression | None = None
    compat: str | None = None
    #: the name right after the module part was the first attribute (``s.SUCCESS``)
    first_level: bool = False


@dataclass
class ImportPlan:
    """What the transformer does for module imports."""

    #: node of a use (the Celery module part of its chain) -> the compat module's dotted name
    replacements: dict[cst.CSTNode, str] = field(default_factory=dict)
    #: alias -> (new dotted name, keep its ``as`` name)
    renamed: dict[cst.ImportAlias, tuple[str, bool]] = field(default_factory=dict)
    #: import statement -> compat modules to import right after it
    extra: dict[cst.Import, list[str]] = field(default_factory=dict)
    moved: list[Moved] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


def plan_module_imports(wrapper: MetadataWrapper, *, include_app: bool) -> ImportPlan:
    """Analyse the ``import celery…`` statements of ``wrapper.module`` and their uses."""
    plan = ImportPlan()
    scopes = wrapper.resolve(ScopeProvider)
    module_scope = scopes[wrapper.module]
    if module_scope is None:  # pragma: no cover - a module always has its scope
        return plan
    parents = wrapper.resolve(ParentNodeProvider)
    contexts = wrapper.resolve(ExpressionContextProvider)
    positions = wrapper.resolve(PositionProvider)
    accesses = {
        id(access.node): access
        for scope in {scope for scope in scopes.values() if scope is not None}
        for access in scope.accesses
    }
    by_alias: dict[cst.ImportAlias, Binding] = {}
    # in source order, so that the report and the imports added follow the file
    for access in sorted(accesses.values(), key=lambda a: _where(positions, a.node)):
        found: list[Binding] = []
        foreign = False
        for referent in sorted(
            access.referents, key=lambda r: _where(positions, getattr(r, "node", None))
        ):
            bound = _bindings(referent, by_alias)
            found.extend(b for b in bound if b not in found)
            foreign = foreign or not bound
        if not found:
            continue
        base = _leftmost_name(access.node)
        use = Use(line=_where(positions, base or access.node)[0], bindings=found)
        for binding in found:
            binding.uses.append(use)
        if base is None:  # named in a string: an annotation, ``__all__``
            plan.kept.append(Kept(use.line, found[0].module, _text(access.node), IN_STRING))
            continue
        modules = {b.module for b in found}
        rebound = foreign or len(modules) > 1
        _resolve(use, base, found[0].module, parents, contexts, plan, rebound, include_app)
    exported = exported_names(wrapper.module)
    for binding in by_alias.values():
        if binding.name in exported:
            # re-exported by name: the module object must stay what it is
            line = positions[binding.alias].start.line
            binding.uses.append(Use(line=line, bindings=[binding]))
            plan.kept.append(Kept(line, binding.module, binding.name, EXPORTED))
    in_order = sorted(by_alias.values(), key=lambda b: _where(positions, b.alias))
    _decide(in_order, module_scope, lambda node: scopes.get(node), plan)
    return plan


def _bindings(referent: BaseAssignment, by_alias: dict[cst.ImportAlias, Binding]) -> list[Binding]:
    """The Celery aliases of the ``import`` statement behind ``referent`` that bind its name
    (none for any other kind of assignment)."""
    if not isinstance(referent, ImportAssignment):
        return []
    statement = referent.node
    if not isinstance(statement, cst.Import):
        return []
    found = []
    for alias in statement.names:
        dotted = get_full_name_for_node(alias.name) or ""
        if not (dotted == "celery" or dotted.startswith("celery.")):
            continue
        asname = alias.evaluated_alias
        top = dotted.split(".")[0]
        if (asname or top) != referent.name.split(".")[0]:
            continue
        if alias not in by_alias:
            module = dotted if asname else top
            by_alias[alias] = Binding(
                statement, alias, module, name=asname or top, aliased=asname is not None
            )
        found.append(by_alias[alias])
    return found


def _leftmost_name(node: cst.CSTNode) -> cst.Name | None:
    """The name a use starts with (``None`` for a use inside a string)."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node if isinstance(node, cst.Name) else None


def _text(node: cst.CSTNode) -> str:
    if isinstance(node, cst.SimpleString):
        return str(node.evaluated_value)
    return cst.Module([]).code_for_node(node)


def _resolve(
    use: Use,
    base: cst.Name,
    module: str,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    contexts: Mapping[cst.CSTNode, ExpressionContext],
    plan: ImportPlan,
    rebound: bool,
    include_app: bool,
) -> None:
    """Fill ``use`` (moved or kept) from the attribute chain that starts at ``base``."""
    chain: list[cst.BaseExpression] = [base]
    attrs: list[str] = []
    while isinstance(parent := parents.get(chain[-1]), cst.Attribute) and parent.value is chain[-1]:
        attrs.append(parent.attr.value)
        chain.append(parent)
    if not attrs:
        plan.kept.append(Kept(use.line, module, base.value, BARE_MODULE))
        return
    if rebound:
        plan.kept.append(Kept(use.line, module, attrs[0], REBOUND))
        return
    depth = _deepest_module(module, attrs)
    if depth is None:
        plan.kept.append(Kept(use.line, module, attrs[0], NOT_OFFERED))
        return
    owner = ".".join([module, *attrs[:depth]])
    name = attrs[depth]
    if depth + 1 == len(attrs) and contexts.get(chain[-1]) in _WRITES:
        plan.kept.append(Kept(use.line, owner, name, ASSIGNED))
        return
    compat, reason = destination(owner, name, include_app=include_app)
    if compat is None:
        plan.kept.append(Kept(use.line, owner, name, reason))
        return
    if narrower(owner, name) and in_class_test(chain[depth + 1], parents):
        plan.kept.append(Kept(use.line, owner, name, CLASS_TEST.format(line=use.line)))
        return
    if owner == "celery" and name == "current_app" and attrs[depth + 1 : depth + 2] == ["task"]:
        plan.kept.append(Kept(use.line, owner, "current_app.task", CURRENT_APP_TASK))
    use.prefix = chain[depth]
    use.compat = compat
    use.first_level = depth == 0
    plan.moved.append(Moved(use.line, owner, name, compat))


_WRITES = (ExpressionContext.STORE, ExpressionContext.DEL)


def _where(positions: Mapping[cst.CSTNode, CodeRange], node: cst.CSTNode | None) -> tuple[int, int]:
    if node is None or node not in positions:
        return (0, 0)
    start = positions[node].start
    return (start.line, start.column)


def _deepest_module(module: str, attrs: Sequence[str]) -> int | None:
    """How many attributes of ``attrs`` name the deepest Celery module with a compat module
    (leaving one name after it), or ``None`` when there is none."""
    found = None
    for depth in range(len(attrs)):
        if ".".join([module, *attrs[:depth]]) in CELERY_TO_COMPAT:
            found = depth
    return found


def _decide(
    bindings: list[Binding],
    module_scope: Scope,
    scope_of: Callable[[cst.CSTNode], Scope | None],
    plan: ImportPlan,
) -> None:
    """Per import: swapped whole, rewritten use by use, or untouched; fills ``plan``. A
    compat module is imported once per scope."""
    swapped = {
        b
        for b in bindings
        if b.aliased and b.uses and all(u.compat and u.first_level for u in b.uses)
    }
    changed = True
    while changed:  # a use bound by several imports is swapped only if all of them are
        changed = False
        for binding in list(swapped):
            if any(other not in swapped for u in binding.uses for other in u.bindings):
                swapped.discard(binding)
                changed = True
    already = _plain_imports(module_scope)
    #: (scope, compat module) imported without ``as`` by a rewritten import
    provided: set[tuple[int, str]] = set()
    needs: dict[Binding, list[str]] = {}
    for binding in bindings:  # in source order
        if binding in swapped:
            compat = compat_module_of(binding.module)
            assert compat is not None  # its uses moved at the first level
            plan.renamed[binding.alias] = (compat, True)
            continue
        moved = [u for u in binding.uses if u.compat]
        if not moved:
            continue
        for use in moved:
            assert use.prefix is not None and use.compat is not None
            plan.replacements[use.prefix] = use.compat
        needed = _unique(u.compat for u in moved if u.compat)
        if all(u.compat for u in binding.uses):  # no use left on Celery: replace the import
            # by a compat module this scope does not import yet (``import celery.states,
            # celery.signals``: both bind ``celery``, one each); else a repeat, dropped later
            scope = id(scope_of(binding.statement))
            fresh = [m for m in needed if m not in already and (scope, m) not in provided]
            pick = (fresh or needed)[0]
            plan.renamed[binding.alias] = (pick, False)
            provided.add((scope, pick))
            needed = [m for m in needed if m != pick]
        needs[binding] = needed
    for binding, needed in needs.items():
        scope = id(scope_of(binding.statement))
        extra = plan.extra.setdefault(binding.statement, [])
        for module in needed:
            if module not in already and (scope, module) not in provided:
                extra.append(module)
                provided.add((scope, module))


def _plain_imports(module_scope: Scope) -> set[str]:
    """Dotted names imported without ``as`` at module level (``import pynenc_celery_compat``
    already there is not added again)."""
    names: set[str] = set()
    for assignment in module_scope.assignments:
        if not isinstance(assignment, ImportAssignment):
            continue
        statement = assignment.node
        if isinstance(statement, cst.Import):
            for alias in statement.names:
                if alias.asname is None:
                    names.add(get_full_name_for_node(alias.name) or "")
    return names


def exported_names(module: cst.Module) -> set[str]:
    """The names listed in the module's ``__all__`` (literal lists and tuples of strings)."""
    names: set[str] = set()
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for statement in line.body:
            target, value = _all_assignment(statement)
            if target and isinstance(value, cst.List | cst.Tuple):
                for element in value.elements:
                    if isinstance(element.value, cst.SimpleString):
                        names.add(str(element.value.evaluated_value))
    return names


def _all_assignment(statement: cst.BaseSmallStatement) -> tuple[bool, cst.BaseExpression | None]:
    if isinstance(statement, cst.Assign):
        named = any(
            isinstance(t.target, cst.Name) and t.target.value == "__all__"
            for t in statement.targets
        )
        return named, statement.value
    if isinstance(statement, cst.AugAssign | cst.AnnAssign):
        target = statement.target
        return isinstance(target, cst.Name) and target.value == "__all__", statement.value
    return False, None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
