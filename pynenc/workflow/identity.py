"""Which workflow an invocation belongs to.

A top-level call starts a workflow whose id is its invocation id and whose type is its
task. A call made from inside a task joins the caller's workflow, unless the task called
is declared ``force_new_workflow=True``: that starts a sub-workflow, linked to the
caller's workflow as its parent. Nothing is stored for it: the identity is worked out from
the call tree when ``wf.identity`` or the workflow's data is first used (a read per
ancestor, cached per process), so calls pay nothing for it.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import PynencError

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.invocation.base import BaseInvocation
    from pynenc.task import Task

#: ancestors' workflows remembered per process (invocation id -> (workflow id, type))
_KNOWN: dict[str, tuple[str, str]] = {}
_KNOWN_MAX = 10_000


@dataclass(frozen=True)
class WorkflowIdentity:
    """Who a workflow is: ``task.wf.identity``."""

    workflow_id: str  #: the invocation id of the call that started it
    workflow_type: str  #: the key of that call's task
    #: the workflow that called it, for a sub-workflow (``None``: a top-level workflow)
    parent_workflow_id: str | None
    invocation_id: str  #: the invocation running now (the workflow's own, or a member's)
    run: int  #: 1, then one more for each continue_as_new of this invocation

    @property
    def is_member(self) -> bool:
        """The running invocation joined the workflow (it did not start it)."""
        return self.invocation_id != self.workflow_id


def uses_wf(func: Callable[..., Any]) -> bool:
    """Whether ``func``'s code (or code nested in it) reads an attribute or name ``wf``."""
    code = getattr(func, "__code__", None)
    if code is None:
        wrapped = getattr(func, "__wrapped__", None)
        return wrapped is not None and uses_wf(wrapped)
    return _code_uses_wf(code)


def _code_uses_wf(code: types.CodeType) -> bool:
    if "wf" in code.co_names:
        return True
    return any(isinstance(c, types.CodeType) and _code_uses_wf(c) for c in code.co_consts)


def is_workflow_task(task: Task[Any, Any]) -> bool:
    """A workflow task, for listings: one whose function uses ``wf`` or that starts its own
    workflow (``force_new_workflow``)."""
    found: bool | None = task.__dict__.get("_is_workflow")
    if found is None:
        found = task.conf.force_new_workflow or uses_wf(task.func)
        task.__dict__["_is_workflow"] = found
    return found


def starts_workflow(task: Task[Any, Any]) -> bool:
    """Whether a call of ``task`` from inside another task starts a sub-workflow (option
    ``force_new_workflow``) rather than joining the caller's workflow."""
    return task.conf.force_new_workflow


def identity_of(invocation: BaseInvocation[Any, Any], run: int) -> WorkflowIdentity:
    """The workflow identity of the running ``invocation``."""
    task = invocation.task
    key = task.task_id.key
    own = invocation.invocation_id
    parent = getattr(invocation, "_parent", None)  # dev sync mode: the caller's object
    if parent is not None:
        parent_wf = _sync_workflow(parent)
    elif invocation.parent_id is not None:
        parent_wf = _workflow_of(task.app, invocation.parent_id)
    else:
        return WorkflowIdentity(own, key, None, own, run)
    if starts_workflow(task):
        return WorkflowIdentity(own, key, parent_wf[0], own, run)
    grand = _parent_workflow(task.app, parent, parent_wf[0])
    return WorkflowIdentity(parent_wf[0], parent_wf[1], grand, own, run)


def _parent_workflow(app: Pynenc, parent: Any, workflow_id: str) -> str | None:
    """The parent workflow of workflow ``workflow_id`` (a member reports its workflow's)."""
    if parent is not None:
        node = parent
        while node is not None and node.invocation_id != workflow_id:
            node = getattr(node, "_parent", None)
        above = getattr(node, "_parent", None) if node is not None else None
        return None if above is None else _sync_workflow(above)[0]
    record = app.state_backend.get(workflow_id)
    if record is None or record.parent_id is None:
        return None
    return _workflow_of(app, record.parent_id)[0]


def _sync_workflow(invocation: Any) -> tuple[str, str]:
    """The workflow of a dev-sync-mode invocation, from the objects of its callers."""
    node = invocation
    while True:
        above = getattr(node, "_parent", None)
        if above is None or starts_workflow(node.task):
            return node.invocation_id, node.task.task_id.key
        node = above


def _workflow_of(app: Pynenc, invocation_id: str) -> tuple[str, str]:
    """The workflow (id, type) invocation ``invocation_id`` belongs to, from the records of
    its ancestors."""
    known = _KNOWN.get(invocation_id)
    if known is not None:
        return known
    record = app.state_backend.get(invocation_id)
    if record is None:  # purged: it stands for itself
        return invocation_id, "?"
    found: tuple[str, str]
    if record.parent_id is None or _is_workflow_key(app, record.task_id):
        found = (invocation_id, record.task_id)
    else:
        found = _workflow_of(app, record.parent_id)
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN[invocation_id] = found
    return found


def _is_workflow_key(app: Pynenc, task_key: str) -> bool:
    task = app.tasks.get(task_key)
    if task is None:
        try:
            task = app.resolve_task(task_key)
        except PynencError:
            return True  # a task this process cannot see: taken as a workflow of its own
    return starts_workflow(task)
