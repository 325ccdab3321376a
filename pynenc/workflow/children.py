"""How a workflow calls its children (``wf.execute_task``, ``wf.execute_tasks``): each
under an id derived from the run and the step, so that a replay, or a runner that died
between a call and its record, never calls a child twice; a replayed step reads the
children's records instead of registering them again."""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.call_options import MAX_ID_LENGTH, CallOptions, TaskWithOptions
from pynenc.exceptions import InvocationConflictError, NonDeterministicWorkflowError
from pynenc.records import fingerprint
from pynenc.workflow.journal import RULES

if TYPE_CHECKING:
    from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup
    from pynenc.task import Task
    from pynenc.workflow.workflow_context import WorkflowContext


def group(
    ctx: WorkflowContext, child: Task[Any, Any], invocations: list[BaseInvocation[Any, Any]]
) -> BaseInvocationGroup[Any, Any]:
    from pynenc.invocation.distributed import DistributedInvocationGroup
    from pynenc.invocation.sync import SyncInvocation, SyncInvocationGroup

    if invocations and isinstance(invocations[0], SyncInvocation):
        return SyncInvocationGroup(child, invocations)
    return DistributedInvocationGroup(child, invocations)


def child_id(ctx: WorkflowContext, step: int, fit: bool = True) -> str:
    chosen = f"{ctx.invocation.invocation_id}-wf{ctx.journal.run}-{step}"
    return fit_id(chosen) if fit else chosen


def answered(ctx: WorkflowContext, invocation_id: str) -> BaseInvocation[Any, Any]:
    """The invocation that answered a step's call when it first ran instead of the
    child id the step chose (a cached result, a call folded into a pending one):
    returned again, never called again."""
    return ctx.task.app.invocation(invocation_id)


def call_one(
    ctx: WorkflowContext,
    child: Task[Any, Any],
    options: CallOptions | None,
    chosen: str,
    arguments: Arguments,
    step: int,
) -> BaseInvocation[Any, Any]:
    mine = CallOptions(invocation_id=chosen) if options is None else replace(
        options, invocation_id=chosen
    )  # fmt: skip
    try:
        return child._call(arguments, mine)
    except InvocationConflictError:
        stored = child.app.state_backend.get(chosen)
        if stored is not None and stored.task_id != child.task_id.key:
            raise NonDeterministicWorkflowError(
                f"{ctx.journal.label}, run {ctx.journal.run}: step {step} calls "
                f"{child.task_id.key}, but its child id {chosen} is already used by a "
                f"call of task {stored.task_id}: the step called that task when it "
                "first ran (a runner died before recording it), or another caller "
                f"chose this id. A workflow's child ids are its own. See {RULES}."
            ) from None
        raise NonDeterministicWorkflowError(
            f"{ctx.journal.label}, run {ctx.journal.run}: step {step} called "
            f"{child.task_id.key} with other arguments when it first ran (invocation "
            f"{chosen}). Pass a child the same arguments on every replay. See {RULES}."
        ) from None


def call_all(
    ctx: WorkflowContext,
    child: Task[Any, Any],
    options: CallOptions | None,
    ids: list[str],
    calls: list[Arguments],
    step: int,
) -> list[BaseInvocation[Any, Any]]:
    """Register and publish the calls as ``parallelize`` does (one backend write and
    one broker batch per ``parallel_batch_size`` calls), each under its chosen id."""
    from pynenc.call import submit
    from pynenc.task import invocations_per_message

    made: list[Call[Any, Any]] = [Call(child, arguments) for arguments in calls]
    size = child.conf.parallel_batch_size
    per_message = invocations_per_message(len(made), size)
    base = options if options is not None else CallOptions()
    invocations: list[BaseInvocation[Any, Any]] = []
    for start in range(0, len(made), size):
        chosen = tuple(ids[start : start + size])
        batch = replace(base, invocation_id=None, invocation_ids=chosen)
        try:
            invocations.extend(submit(made[start : start + size], per_message, batch))
        except InvocationConflictError as exc:
            raise NonDeterministicWorkflowError(
                f"{ctx.journal.label}, run {ctx.journal.run}: step {step} called "
                f"{child.task_id.key} with other arguments when it first ran ({exc}). "
                f"Pass the children the same arguments on every replay. See {RULES}."
            ) from None
    return invocations


def replayed(
    ctx: WorkflowContext, child: Task[Any, Any], ids: list[str], calls: list[Arguments], step: int
) -> list[BaseInvocation[Any, Any]] | None:
    """The children a replayed step made, from one read of their records (nothing is
    registered or published again), checked to be these calls; ``None`` when one is
    gone (purged), or in dev sync mode: they are then called as the first time."""
    from pynenc.invocation.distributed import DistributedInvocation
    from pynenc.invocation.sync import SyncInvocation

    app = child.app
    if app.conf.dev_mode_force_sync_tasks or isinstance(ctx.invocation, SyncInvocation):
        return None
    records = app.state_backend.get_many(ids)
    found: list[BaseInvocation[Any, Any]] = []
    for chosen, record, arguments in zip(ids, records, calls, strict=True):
        if record is None:
            return None
        serialized = Call(child, arguments).serialized_arguments
        if record.task_id != child.task_id.key or fingerprint(record.arguments) != fingerprint(
            serialized
        ):
            raise NonDeterministicWorkflowError(
                f"{ctx.journal.label}, run {ctx.journal.run}: step {step} called "
                f"{record.task_id} with other arguments when it first ran (invocation "
                f"{chosen}). Pass a child the same arguments on every replay. See {RULES}."
            )
        invocation = DistributedInvocation.from_record(app, record)
        invocation.task, invocation.arguments = child, arguments
        found.append(invocation)
    return found


def plain(signature: inspect.Signature) -> str:
    """A signature's parameters as a caller writes them (no annotations): ``(x, y=1)``."""
    empty = inspect.Parameter.empty
    bare = [p.replace(annotation=empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=empty))


def fit_id(chosen: str) -> str:
    """A child id that an invocation id may be: ``chosen``, or past the length an id may
    have (a long caller-chosen workflow id, sub-workflows nested deep), a digest of it."""
    if len(chosen) <= MAX_ID_LENGTH:
        return chosen
    return "wf-" + hashlib.sha256(chosen.encode("utf-8", "surrogatepass")).hexdigest()


def task_of(task: Any, operation: str) -> tuple[Task[Any, Any], CallOptions | None]:
    """The task to call and its call options (``task.with_options(...)``, of a task or of
    a direct task's function)."""
    from pynenc.task import _extract_task_from_wrapper

    bound = task if isinstance(task, TaskWithOptions) else _bound_options(task)
    found = bound.task if bound is not None else _extract_task_from_wrapper(task)
    if found is None:
        raise TypeError(
            f"wf.{operation} needs a task (a function decorated with @app.task or "
            f"@app.direct_task, or task.with_options(...)), not {task!r}"
        )
    if bound is None:
        return found, None
    if bound.options.invocation_id is not None:
        raise ValueError(
            f"wf.{operation}({found.task_id.key}.with_options(invocation_id="
            f"{bound.options.invocation_id!r})): a workflow names its children itself "
            "(<workflow id>-wf<run>-<step>), which is how a replay finds a child it called "
            "already. Leave out invocation_id; the other call options are kept."
        )
    return found, bound.options


def _bound_options(wrapper: Any) -> TaskWithOptions[Any, Any] | None:
    """The task with call options a direct task's ``with_options(...)`` function calls."""
    try:
        bound = vars(wrapper).get("__pynenc_call__")
    except TypeError:  # no __dict__
        return None
    return bound if isinstance(bound, TaskWithOptions) else None
