"""Running a composition (:mod:`pynenc.compose`): every step registered in one backend
write, the first ones published in one broker batch; or, in dev sync mode, run inline in
order (groups one member after another, error callbacks at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.cancellation import default_canceller
from pynenc.compose import (
    ChainRun,
    ChainShape,
    GroupRun,
    GroupShape,
    Handle,
    Node,
    Planner,
    Shape,
    Step,
)
from pynenc.exceptions import DependencyError
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.invocation.sync import SyncInvocation
from pynenc.orchestrator.routing import Plan
from pynenc.orchestrator.scheduling import publish_now
from pynenc.records import (
    CHORD_RECEIVES,
    ON_FAILURE,
    RECEIVE_ERROR,
    RECEIVE_LIST,
    RECEIVE_VALUE,
    InvocationStatus,
    Links,
)

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker.envelope import Envelope
    from pynenc.invocation.base import BaseInvocation

S = InvocationStatus


def run_node(node: Node) -> Any:
    """Register and publish ``node`` (or run it inline in dev sync mode): its handle."""
    planner = Planner()
    try:
        shape = planner.node(node, (), None)
    except RecursionError:
        raise ValueError(
            "The composition is nested too deeply to plan (a group inside a chain inside a "
            "group ..., hundreds of levels): flatten it (chain(a, b, c) rather than chains of "
            "chains; one group of many members)"
        ) from None
    steps = planner.steps
    if not steps:  # only empty groups: nothing to run, every result is known
        return build(shape, {})
    app = one_app(steps.values())
    if app.conf.dev_mode_force_sync_tasks:
        return SyncRun(steps).shape(shape)
    handles = submit_steps(app, list(steps.values()))
    return build(shape, handles)


def one_app(steps: Iterable[Step]) -> Pynenc:
    """The app every step's task belongs to: a composition is registered with one state
    backend and published on one broker.

    :raises ValueError: tasks of two apps, naming one of each.
    """
    first: Step | None = None
    for step in steps:
        if first is None:
            first = step
        elif step.sig.task.app.app_id != first.sig.task.app.app_id:
            one, other = first.sig.task, step.sig.task
            raise ValueError(
                f"A composition runs on one app, but {one.task_id.key} is a task of app "
                f"{one.app.app_id!r} and {other.task_id.key} of app {other.app.app_id!r}. "
                "Declare the tasks on one app, or compose each app's tasks apart"
            )
    assert first is not None
    return first.sig.task.app


def build(shape: Shape, handles: dict[str, BaseInvocation[Any, Any]]) -> Handle:
    """The handle of ``shape``, from the handle of each step."""
    if isinstance(shape, str):
        return handles[shape]
    if isinstance(shape, ChainShape):
        return ChainRun([build(step, handles) for step in shape.steps])
    return GroupRun([build(member, handles) for member in shape.members])


def submit_steps(app: Pynenc, steps: list[Step]) -> dict[str, BaseInvocation[Any, Any]]:
    """Register every step (the waiting ones WAITING, with their links) in one backend
    write and publish those that start now; each step's invocation, by id. The
    ``before_publish`` hooks see every invocation first, ``after_publish`` those sent."""
    orchestrator = app.orchestrator
    calls: list[Call[Any, Any]] = []
    records = []
    envelopes: list[Envelope] = []
    now = 0.0
    for step in steps:
        call: Call[Any, Any] = Call(step.sig.task, step.arguments)
        plan = orchestrator.plan([call], step.sig.options)
        now = now or plan.now
        links = _links(step)
        record = replace(plan.records[0], invocation_id=step.invocation_id, links=links)
        if step.after:
            record = replace(record, status=S.WAITING, due=None)
        else:
            envelopes.extend(
                replace(e, invocation_id=step.invocation_id, links=links) for e in plan.envelopes
            )
        calls.append(call)
        records.append(record)
    invocations: list[BaseInvocation[Any, Any]] = [
        DistributedInvocation(step.sig.task, step.arguments, step.invocation_id, r.parent_id)
        for step, r in zip(steps, records, strict=True)
    ]
    hooks = app.hooks
    if hooks.before_publish:
        hooks.emit("before_publish", invocations)
    plan = Plan(calls, records, envelopes, now)
    orchestrator.send(plan)
    if plan.held:  # caller-chosen ids stored already: what follows them may be released
        _publish_released(app, steps, {records[index].invocation_id for index in plan.held})
    if hooks.after_publish:
        sent = {e.invocation_id for e in envelopes}
        published = [inv for inv in invocations if inv.invocation_id in sent]
        if published:
            hooks.emit("after_publish", published)
    return {inv.invocation_id: inv for inv in invocations}


def _publish_released(app: Pynenc, steps: list[Step], held: set[str]) -> None:
    """Publish the new steps that registering released: those waiting for an invocation
    stored (and ended) before, settled when they were linked. Those still waiting, those
    due later (a step's delay: the scheduler's), and the stored ones are left as they are."""
    released = [
        step.invocation_id
        for step in steps
        if step.invocation_id not in held and held.intersection(step.after)
    ]
    if released:
        reason = "released at registration: what it waits for had ended"
        # who publishes, for the history: this process (or the task calling), as for a cancel
        publish_now(app.orchestrator, default_canceller(), released, reason, due_only=True)


def _links(step: Step) -> Links | None:
    if not (step.after or step.then):
        return None
    delay, not_before = 0.0, None
    options = step.sig.options
    if step.after and options is not None and options.delays:  # counted from its release
        delay = options.delay or 0.0
        not_before = None if options.eta is None else options.eta.timestamp()
    then = tuple(step.then)
    return Links(step.after, step.on, step.receive, step.into, then, delay, not_before, step.before)


class SyncRun:
    """Dev sync mode: each step run inline, in order, as a runner would release it."""

    def __init__(self, steps: dict[str, Step]) -> None:
        self.steps = steps
        self.done: dict[str, SyncInvocation[Any, Any]] = {}

    def shape(self, shape: Shape) -> Handle:
        if isinstance(shape, str):
            return self.step(shape)
        if isinstance(shape, ChainShape):
            return ChainRun([self.shape(step) for step in shape.steps])
        assert isinstance(shape, GroupShape)
        return GroupRun([self.shape(member) for member in shape.members])

    def step(self, invocation_id: str) -> SyncInvocation[Any, Any]:
        if invocation_id in self.done:
            return self.done[invocation_id]
        step = self.steps[invocation_id]
        task = step.sig.task
        parents = [self.step(p) for p in step.after]
        failed = next((p for p in parents if p.status is not S.SUCCESS), None)
        if failed is not None:
            invocation: SyncInvocation[Any, Any] = SyncInvocation(
                task, step.arguments, invocation_id
            )
            invocation.fail(_upstream_error(failed))
        else:
            received: tuple[Any, ...] = ()
            if step.receive == RECEIVE_LIST:
                received = ([p.result for p in parents],)
            elif step.receive == RECEIVE_VALUE:
                received = (parents[0].result,)
            arguments = Arguments(task.receive(step.arguments.kwargs, received, step.into))
            invocation = task._call(arguments, step.sig.options)  # type: ignore[assignment]
        self.done[invocation_id] = invocation
        # a chord body's callbacks: not for a failure from before the chord (Links.before)
        in_header = step.receive in CHORD_RECEIVES and all(
            self.done[b].status is S.SUCCESS for b in step.before if b in self.done
        )
        for follower in step.then:
            if self.steps[follower].on == ON_FAILURE:
                self.errback(follower, invocation, failed is None or in_header)
        return invocation

    def errback(self, errback_id: str, failed: SyncInvocation[Any, Any], fires: bool) -> None:
        step = self.steps[errback_id]
        if failed.status is not S.FAILED or not fires:
            return
        task = step.sig.task
        received: tuple[Any, ...] = ()
        if step.receive == RECEIVE_ERROR:
            received = (failed, failed.error)
        arguments = Arguments(task.receive(step.arguments.kwargs, received, step.into))
        self.done[errback_id] = task._call(arguments, step.sig.options)  # type: ignore[assignment]


def _upstream_error(failed: SyncInvocation[Any, Any]) -> BaseException:
    if failed.error is not None:
        return failed.error
    return DependencyError(
        f"Invocation {failed.invocation_id}, which this one waited for, ended {failed.status.name}",
        failed.invocation_id,
    )
