"""Workflows: ``task.wf`` (durable state, deterministic steps, pause and resume,
continue-as-new) and ``app.workflows`` (see ``docs/workflows.md``).

The names below are imported on first use: the invocation layer imports the leaf modules
(``signals``, ``journal``) of this package without pulling in the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pynenc.workflow.identity import WorkflowIdentity
    from pynenc.workflow.manager import WorkflowInfo, Workflows
    from pynenc.workflow.workflow_context import WorkflowContext

__all__ = ["WorkflowContext", "WorkflowIdentity", "WorkflowInfo", "Workflows"]

_WHERE = {
    "WorkflowContext": "pynenc.workflow.workflow_context",
    "WorkflowIdentity": "pynenc.workflow.identity",
    "WorkflowInfo": "pynenc.workflow.manager",
    "Workflows": "pynenc.workflow.manager",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pynenc.workflow' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
