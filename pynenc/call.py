"""A call: one task plus its arguments, serialized once when it has to travel; and
:func:`submit`, which routes calls and hands back their invocations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic

from pynenc.arguments import Arguments
from pynenc.invocation.distributed import DistributedInvocation, ReusedInvocation
from pynenc.serializer import serialize_arguments
from pynenc.types import Params, Result

if TYPE_CHECKING:
    from pynenc.call_options import CallOptions
    from pynenc.task import Task


class Call(Generic[Params, Result]):
    """A task and the arguments of one call to it (large ones, as they travel, are
    references to the client data store)."""

    __slots__ = ("_serialized", "arguments", "task")

    def __init__(self, task: Task[Params, Result], arguments: Arguments) -> None:
        self.task = task
        self.arguments = arguments
        self._serialized: dict[str, str] | None = None

    @property
    def serialized_arguments(self) -> dict[str, str]:
        """Each argument encoded by the task's serializer (computed once)."""
        if self._serialized is None:
            task = self.task
            app = task.app
            # a task's own serializer is checked against the accept list (Task.serializer)
            serializer = app.serializer if task.conf.serializer is None else task.serializer
            encoded = serialize_arguments(serializer, task.task_id.key, self.arguments.kwargs)
            self._serialized = app.client_data_store.externalize(encoded)
        return self._serialized

    def __repr__(self) -> str:
        return f"Call({self.task.task_id.key}, {self.arguments!r})"


class PreSerializedCall(Call[Params, Result]):
    """A call whose shared arguments were serialized once for many calls.

    ``parallelize(..., common_args=...)`` encodes the common arguments a single time (and
    stores a large one in the client data store once); each call then only encodes its own
    arguments and merges the shared encodings.
    """

    __slots__ = ("_common",)

    def __init__(
        self,
        task: Task[Params, Result],
        arguments: Arguments,
        pre_serialized: Mapping[str, str],
    ) -> None:
        super().__init__(task, arguments)
        self._common = pre_serialized

    @property
    def serialized_arguments(self) -> dict[str, str]:
        if self._serialized is None:
            own = {k: v for k, v in self.arguments.kwargs.items() if k not in self._common}
            task = self.task
            encoded = serialize_arguments(task.serializer, task.task_id.key, own)
            self._serialized = {**self._common, **task.app.client_data_store.externalize(encoded)}
        return self._serialized


def submit(
    calls: Sequence[Call[Any, Any]], per_message: int = 1, options: CallOptions | None = None
) -> list[DistributedInvocation[Any, Any]]:
    """Route ``calls`` (all of one app) and return their invocations, in call order.

    The orchestrator plans the records, the ``before_publish`` hooks see the invocations
    (and may refuse them: nothing is then stored), the orchestrator registers and
    publishes, and the ``after_publish`` hooks see those that were. A call that
    registration control folded into a pending invocation gets a
    :class:`ReusedInvocation` on it.
    """
    app = calls[0].task.app
    orchestrator = app.orchestrator
    hooks = app.hooks
    plan = orchestrator.plan(calls, options)
    invocations: list[DistributedInvocation[Any, Any]] = [
        DistributedInvocation(call.task, call.arguments, record.invocation_id, record.parent_id)
        for call, record in zip(calls, plan.records, strict=True)
    ]
    if hooks.before_publish:  # may refuse the calls: before anything is stored
        hooks.emit("before_publish", invocations)
    orchestrator.send(plan, per_message)
    if plan.reused:
        published = [inv for i, inv in enumerate(invocations) if i not in plan.reused]
        for index, holder in plan.reused.items():
            call = calls[index]
            invocations[index] = ReusedInvocation(call.task, call.arguments, holder)
    elif plan.held:  # caller-chosen ids seen before: nothing was published for them
        published = [inv for i, inv in enumerate(invocations) if i not in plan.held]
    else:
        published = invocations
    if hooks.after_publish and published:
        hooks.emit("after_publish", published)
    return invocations
