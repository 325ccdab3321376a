"""The dependency direction of ``docs/architecture.md``, checked over every import.

CLI → app → tasks → invocations → orchestrator → {state backend, broker}; runners →
orchestrator and broker; ``pynenc.testing`` (helpers for test suites) sits beside the
CLI, above everything. State backends and the broker know nothing of orchestration,
runners or each other; configuration imports no component. Leaf modules (records,
exceptions, types, identifiers, arguments, serializer, logs, context, timeouts, attempt,
cancellation) serve
everyone. Runtime imports count — at module level or inside a function; imports under
``TYPE_CHECKING`` do not (a component is handed the app, an invocation names its task:
type-level references that load nothing).

The imports that still break the rule are listed in ``KNOWN`` with the reason; one that is
no longer there must be taken off the list, so the list (and the docs) stay true.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pynenc"

#: first name under ``pynenc`` -> layer; anything else is a shared leaf module
LAYERS = {
    "__main__": "cli",
    "cli": "cli",
    "testing": "testing",
    "": "app",
    "app": "app",
    "task": "tasks",
    "direct_task": "tasks",
    "call": "tasks",
    "call_options": "tasks",
    "compose": "tasks",
    "compose_run": "tasks",
    "invocation": "invocations",
    "orchestrator": "orchestrator",
    "state_backend": "state_backend",
    "broker": "broker",
    "runner": "runners",
    "conf": "conf",
    "trigger": "triggers",
    "workflow": "workflows",
}
_EVERY = {*LAYERS.values(), "shared"}
#: layer -> the layers its modules may import at runtime
MAY_IMPORT = {
    "cli": _EVERY,
    "testing": _EVERY - {"cli"},  # helpers and contract suites for users' test suites
    "app": _EVERY - {"cli"},
    "tasks": {"tasks", "invocations", "orchestrator", "conf", "shared"},
    "invocations": {"invocations", "orchestrator", "conf", "shared"},
    "orchestrator": {"orchestrator", "state_backend", "broker", "conf", "shared"},
    "state_backend": {"state_backend", "conf", "shared"},
    "broker": {"broker", "conf", "shared"},
    "runners": {"runners", "orchestrator", "broker", "conf", "shared"},
    # triggers fire tasks (the task layer) from what the state backend holds
    "triggers": {
        "triggers",
        "tasks",
        "invocations",
        "orchestrator",
        "state_backend",
        "conf",
        "shared",
    },
    # workflows (task.wf, app.workflows) run tasks and keep their journal in the backend
    "workflows": {
        "workflows",
        "tasks",
        "invocations",
        "orchestrator",
        "state_backend",
        "conf",
        "shared",
    },
    "conf": {"conf", "shared"},
    "shared": {"conf", "shared"},
}

#: (importing module, imported module) -> why it is still there
KNOWN = {
    ("pynenc.orchestrator.result_cache", "pynenc.invocation.distributed"): (
        "a cache hit hands back the earlier invocation's handle (lookup belongs in the task layer)"
    ),
    ("pynenc.orchestrator.recovery", "pynenc.invocation.log"): (
        "the per-invocation log lines (a leaf: logging only) live in the invocation package"
    ),
    ("pynenc.runner.execution", "pynenc.invocation.log"): "as above",
    ("pynenc.orchestrator.claims", "pynenc.invocation.log"): "as above",
    ("pynenc.orchestrator.scheduling", "pynenc.invocation.log"): "as above",
    ("pynenc.orchestrator.overrun", "pynenc.invocation.log"): "as above",
    ("pynenc.orchestrator.admission", "pynenc.invocation.log"): "as above",
    ("pynenc.runner.execution", "pynenc.invocation.distributed"): (
        "a runner runs tasks: the running invocation is exposed as a handle "
        "(current_invocation, task.invocation)"
    ),
    ("pynenc.runner.followers", "pynenc.invocation.distributed"): (
        "a released chain step receives the results of what it waited for, decoded as a "
        "handle decodes them (DistributedInvocation.from_record)"
    ),
    ("pynenc.runner.execution", "pynenc.invocation.sync"): (
        "run_coroutine, shared with dev sync mode, lives with the sync invocation"
    ),
    ("pynenc.runner.soft_limit", "pynenc.invocation.sync"): (
        "run_coroutine's frame marks the body of an async task for the soft-limit signal"
    ),
    ("pynenc.runner.execution", "pynenc.task"): (
        "resolve_task imports a declared task module (Task.from_id) to run its task"
    ),
    ("pynenc.runner.execution", "pynenc.workflow.signals"): (
        "a workflow body leaves its run by a signal (wf.pause, wf.continue_as_new)"
    ),
    ("pynenc.runner.execution", "pynenc.workflow.moves"): (
        "the runner records a workflow's pause or continue-as-new"
    ),
    ("pynenc.invocation.sync", "pynenc.workflow.signals"): (
        "dev sync mode applies a workflow's pause or continue-as-new inline"
    ),
    ("pynenc.invocation.sync", "pynenc.workflow.journal"): "as above (the run bookkeeping)",
    ("pynenc.runner.reference", "pynenc.app"): (
        "a spawned worker imports the user's app by reference and checks it is a Pynenc"
    ),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    first = module.split(".")[1] if "." in module else ""
    return LAYERS.get(first, "shared")


def _target(module: str, name: str) -> str:
    """``from module import name``: the submodule ``module.name`` when there is one."""
    candidate = f"{module}.{name}"
    relative = Path(*candidate.split(".")[1:])
    if (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative).is_dir():
        return candidate
    return module


@functools.cache
def _runtime_imports() -> list[tuple[str, str]]:
    """(importing module, imported module) for every runtime import in the package (read
    when a test asks, not at collection: every xdist worker collects this module)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                found += [(module, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found += [(module, _target(node.module, alias.name)) for alias in node.names]
    return found


def test_the_scan_sees_the_package() -> None:
    assert ("pynenc.app", "pynenc.orchestrator") in _runtime_imports()
    assert ("pynenc.broker.kombu_broker", "kombu") in _runtime_imports()


def test_imports_follow_the_dependency_direction() -> None:
    breaking = {
        (importer, imported)
        for importer, imported in _runtime_imports()
        if imported.startswith("pynenc.") and _layer(imported) not in MAY_IMPORT[_layer(importer)]
    }
    unexplained = sorted(breaking - set(KNOWN))
    assert not unexplained, (
        "imports against the dependency direction (docs/architecture.md, 'Dependency "
        f"direction'): {unexplained}. Move the concept to the layer that owns it."
    )
    gone = sorted(set(KNOWN) - breaking)
    assert not gone, f"no longer imported: take {gone} off KNOWN (and off the docs)"


@pytest.mark.parametrize(
    "layer", ["runners", "orchestrator", "invocations", "tasks", "state_backend", "conf"]
)
def test_only_the_broker_imports_kombu(layer: str) -> None:
    users = sorted(
        importer
        for importer, imported in _runtime_imports()
        if imported.split(".")[0] == "kombu" and _layer(importer) == layer
    )
    assert users == [], f"{users} import kombu: only pynenc.broker may"


def test_runners_use_the_broker_through_its_public_api() -> None:
    """``pynenc.broker`` (its ``__all__``) and the broker object: no broker module."""
    inside = sorted(
        (importer, imported)
        for importer, imported in _runtime_imports()
        if _layer(importer) == "runners" and imported.startswith("pynenc.broker.")
    )
    assert inside == [], f"runner modules importing broker internals: {inside}"
