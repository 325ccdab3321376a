"""``task.wf``: what a running workflow body can do, durably and deterministically.

Every operation is a step of the run's :class:`~pynenc.workflow.journal.Journal`: the
first time it runs its value is recorded; when the body runs again (a retry, a runner that
died, a resume) the same step returns the recorded value. See ``docs/workflows.md``.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import random as _random
import uuid as _uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.context import current_invocation
from pynenc.exceptions import (
    NonDeterministicWorkflowError,
    NotInWorkflowError,
)
from pynenc.records import fingerprint
from pynenc.workflow import children
from pynenc.workflow.identity import WorkflowIdentity, identity_of
from pynenc.workflow.journal import (
    NS_DATA,
    RULES,
    Journal,
    to_json,
)
from pynenc.workflow.signals import ContinueAsNew, WorkflowPause, WorkflowSignal

if TYPE_CHECKING:
    from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup
    from pynenc.state_backend.base import StateBackend
    from pynenc.task import Task

logger = logging.getLogger("pynenc.workflow")


def context_for(task: Task[Any, Any]) -> WorkflowContext:
    """The workflow context of the invocation of ``task`` running in this thread (one per
    attempt: its steps count from the start of the body).

    :raises NotInWorkflowError: no invocation of ``task`` is running here.
    """
    invocation = current_invocation.get()
    if invocation is None or invocation.task.task_id != task.task_id:
        raise NotInWorkflowError(_not_running(task, invocation))
    found: WorkflowContext | None = invocation.__dict__.get("_wf")
    if found is None:
        found = WorkflowContext(invocation)
        invocation.__dict__["_wf"] = found
    return found


def _not_running(task: Task[Any, Any], running: BaseInvocation[Any, Any] | None) -> str:
    """Why ``task.wf`` cannot be used here, and what to do instead."""
    name = task.task_id
    start = (
        f"{name}.wf is only available while {name} runs (inside its function, on a runner "
        "or in dev sync mode, in the thread running it)"
    )
    if running is not None:
        other = running.task.task_id
        return (
            f"{start}, but this thread runs {other}: a task uses its own workflow "
            f"({other}.wf), and calls another workflow task as a child "
            f"({other}.wf.execute_task({task.task_id.func_name}, ...))."
        )
    return (
        f"{start}; no task runs in this thread. A thread started by the body does not "
        "carry the workflow: make wf calls from the task's own thread (fan out with "
        "wf.execute_tasks). To read or resume a workflow from outside, use app.workflows "
        "(get, list, resume, cancel)."
    )


def _backend_of(invocation: BaseInvocation[Any, Any]) -> tuple[StateBackend, str | None]:
    """Where the invocation's workflow is kept and the fingerprint of the arguments of
    this attempt (``None`` in dev sync mode, which keeps workflows in this process)."""
    app = invocation.task.app
    envelope = getattr(invocation, "_envelope", None)
    if envelope is not None:
        return app.state_backend, fingerprint(envelope.arguments)
    from pynenc.invocation.sync import SyncInvocation

    if isinstance(invocation, SyncInvocation):
        return app.workflows.sync_backend, None
    return app.state_backend, None


class WorkflowContext:
    """The ``wf`` of a running task (see the module)."""

    def __init__(self, invocation: BaseInvocation[Any, Any]) -> None:
        self.invocation = invocation
        self.task = invocation.task
        self.backend, fp = _backend_of(invocation)
        label = f"Workflow {invocation.invocation_id} ({self.task.task_id.key})"
        self.journal = Journal(self.backend, invocation.invocation_id, fp, label)
        self._identity: WorkflowIdentity | None = None
        #: the state the last save_state step of this attempt recorded (replayed or new)
        self._state: Any = None
        self._saved = False
        #: the signal this attempt left its run with (wf.pause, wf.continue_as_new)
        self._left: WorkflowSignal | None = None

    def _replay(self, kind: str, detail: str | None = None) -> tuple[int, dict[str, Any] | None]:
        """The next step (:meth:`Journal.replay`), unless the body already left its run."""
        if self._left is not None:
            self._left_again(kind)
        return self.journal.replay(kind, detail)

    def _left_again(self, kind: str) -> NoReturn:
        """A wf operation after the body caught the signal it left its run with (a bare
        ``except:`` or ``except BaseException:``): the run leaves now, as it should have."""
        signal = self._left
        assert signal is not None
        logger.warning(
            "%s: wf.%s() after the run left at %s, whose signal the body caught and did not "
            "raise again; leaving the run now (never catch BaseException around wf calls; "
            "see %s)",
            self.journal.label,
            kind,
            "wf.pause()" if isinstance(signal, WorkflowPause) else "wf.continue_as_new()",
            RULES,
        )
        raise signal

    # -- who ------------------------------------------------------------------------------

    @property
    def identity(self) -> WorkflowIdentity:
        """This workflow's id and type, its parent workflow, the invocation running and its
        run number."""
        if self._identity is None:
            self._identity = identity_of(self.invocation, self.journal.run)
        return self._identity

    @property
    def workflow_id(self) -> str:
        return self.identity.workflow_id

    # -- state of this run and data of the workflow ---------------------------------------

    def get_state(self, default: Any = None) -> Any:
        """The state last saved by this run (``default`` when none was saved yet).

        The state lives in the run's journal: each :meth:`save_state` step records it, so
        the state at any step is the one the last save before it recorded. A body that
        updates its state (``state["n"] += 1``) and saves it does the same thing on every
        replay, and two attempts of one run (a runner thought dead, and the one that took
        over) can never write an older state over a newer one.
        """
        step, entry = self._replay("get_state")
        if entry is not None:
            return entry["v"]
        value = copy.deepcopy(self._state) if self._saved else default
        return self.journal.record(step, {"k": "get_state", "v": value})["v"]

    def save_state(self, state: Any) -> None:
        """Record ``state`` (JSON) as this run's state: kept across retries, recoveries and
        pauses; a continue_as_new starts the next run without it."""
        to_json(state, "wf.save_state(state): the state")  # refused before the step is taken
        step, entry = self._replay("save_state")
        if entry is None:
            entry = self.journal.record(step, {"k": "save_state", "v": state})
        self._state, self._saved = json.loads(to_json(entry.get("v"), "the state")), True

    def get_data(self, key: str, default: Any = None) -> Any:
        """The value every member of the workflow shares under ``key`` (``default``: none)."""
        _check_key(key)
        step, entry = self._replay("get_data", key)
        if entry is not None:
            return entry["v"]
        text = self.backend.get_value(NS_DATA, self._data_key(key))
        value = default if text is None else json.loads(text)
        return self.journal.record(step, {"k": "get_data", "t": key, "v": value})["v"]

    def set_data(self, key: str, value: Any) -> None:
        """Share ``value`` (JSON) under ``key`` with every member of the workflow."""
        _check_key(key)
        text = to_json(value, f"wf.set_data({key!r}, value): the value")
        step, entry = self._replay("set_data", key)
        if entry is not None:
            return
        self.backend.put_value(NS_DATA, self._data_key(key), text)
        self.journal.record(step, {"k": "set_data", "t": key})

    # -- deterministic values --------------------------------------------------------------

    def random(self) -> float:
        """A random float in [0, 1), the same on every replay of this step."""
        return float(self._value("random", _random.random))

    def uuid(self) -> str:
        """A random UUID (its text), the same on every replay of this step."""
        return str(self._value("uuid", lambda: str(_uuid.uuid4())))

    def utc_now(self) -> datetime.datetime:
        """The current time in UTC when this step first ran (aware), the same on replay."""
        text = self._value("utc_now", lambda: datetime.datetime.now(datetime.UTC).isoformat())
        return datetime.datetime.fromisoformat(text)

    def _value(self, kind: str, make: Any) -> Any:
        step, entry = self._replay(kind)
        if entry is not None:
            return entry["v"]
        return self.journal.record(step, {"k": kind, "v": make()})["v"]

    # -- children -------------------------------------------------------------------------

    def execute_task(self, task: Any, *args: Any, **kwargs: Any) -> BaseInvocation[Any, Any]:
        """Call ``task`` (or ``task.with_options(...)``) as a child of this workflow, once:
        on replay, the invocation made the first time is returned (with its result, if it
        has one), and nothing is called again (the replayed step reads the child's record:
        one read). The child's id is derived from this run and step, so even a runner that
        died between the call and its record does not call it twice."""
        child, options = children.task_of(task, "execute_task")
        key = child.task_id.key
        self.invocation.checkpoint()  # cancelled meanwhile: no child is called
        step, entry = self._replay("execute_task", key)
        chosen = children.child_id(self, step)
        if entry is not None and entry["v"] != chosen:  # answered by another invocation
            return children.answered(self, entry["v"])
        try:
            arguments = child.args(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"wf.execute_task({key}, ...): {exc}; it takes {children.plain(child.signature)}"
            ) from None
        if entry is not None:
            found = children.replayed(self, child, [chosen], [arguments], step)
            if found is not None:
                return found[0]
        invocation = children.call_one(self, child, options, chosen, arguments, step)
        if entry is None:
            got = invocation.invocation_id
            self.journal.record(step, {"k": "execute_task", "t": key, "v": got})
        return invocation

    def execute_tasks(
        self, task: Any, param_iter: Iterable[tuple[Any, ...] | dict[str, Any] | Arguments]
    ) -> BaseInvocationGroup[Any, Any]:
        """:meth:`execute_task` for many calls at once (``parallelize``'s parameters: a tuple
        of positional arguments, a dict of keyword arguments, or ``task.args(...)``, all
        checked before any is called), as one step: their invocations as a group, in order
        (``.results`` waits for many at once, as ``parallelize``'s group does). The calls
        are registered and published as ``parallelize`` does them (one backend write per
        ``parallel_batch_size`` calls); a replay reads their records in one read."""
        from pynenc.task import can_batch_process, prepare_arguments

        child, options = children.task_of(task, "execute_tasks")
        key = child.task_id.key
        self.invocation.checkpoint()
        # every call checked as parallelize checks it, before any is made
        calls = prepare_arguments(child, list(param_iter))
        step, entry = self._replay("execute_tasks", key)
        if entry is not None and len(entry["v"]) != len(calls):
            raise NonDeterministicWorkflowError(
                f"{self.journal.label}, run {self.journal.run}: step {step} called {key} "
                f"{len(entry['v'])} times when it first ran, now {len(calls)} times. "
                f"See {RULES}."
            )
        ids = [
            children.fit_id(f"{children.child_id(self, step, False)}-{n}")
            for n in range(len(calls))
        ]
        if entry is not None:
            got: list[str] = entry["v"]
            if got != ids:  # some answered by other invocations when it first ran
                return children.group(self, child, [children.answered(self, i) for i in got])
            found = children.replayed(self, child, ids, calls, step)
            if found is not None:
                return children.group(self, child, found)
        if can_batch_process(child, len(calls)) and not child.conf.call_result_cache:
            invocations = children.call_all(self, child, options, ids, calls, step)
        else:
            invocations = [
                children.call_one(self, child, options, chosen, arguments, step)
                for chosen, arguments in zip(ids, calls, strict=True)
            ]
        if entry is None:
            got = [invocation.invocation_id for invocation in invocations]
            self.journal.record(step, {"k": "execute_tasks", "t": key, "v": got})
        return children.group(self, child, invocations)

    # -- leaving the run ------------------------------------------------------------------

    def pause(self, reason: str = "") -> Any:
        """Stop the run here, PAUSED, holding no runner, until
        ``app.workflows.resume(workflow_id, value)``; then the body runs again from the
        start, replaying its steps, and this call returns ``value``.

        Waiters on the invocation keep waiting (or time out). A paused workflow survives
        runner restarts. In dev sync mode the call returns to its caller at once, PAUSED,
        and ``resume`` runs it again inline.
        """
        step, entry = self._replay("pause")
        if entry is not None and entry.get("resumed"):
            return entry.get("value")
        if entry is None:
            self.journal.record(step, {"k": "pause", "reason": str(reason)})
        self._left = WorkflowPause(str(reason), self.journal.run, step)
        raise self._left

    def continue_as_new(self, *args: Any, **kwargs: Any) -> NoReturn:
        """End this run and start the next run of the same workflow (same invocation and
        workflow id, so waiters get the last run's result) with these arguments, an empty
        journal and no state: a loop that would otherwise grow its journal without bound.
        The arguments are checked against the task's signature now."""
        if self._left is not None:
            self._left_again("continue_as_new")
        signature = self.task.signature
        try:
            arguments = Arguments.from_call(signature, args, kwargs)
        except TypeError as exc:
            raise TypeError(
                f"wf.continue_as_new(...) of {self.task.task_id.key}: {exc}; the next run "
                f"takes the task's arguments {children.plain(signature)}"
            ) from None
        serialized = Call(self.task, arguments).serialized_arguments
        self._left = ContinueAsNew(serialized, arguments.kwargs, self.journal.run)
        raise self._left

    # -- keys ------------------------------------------------------------------------------

    def _data_key(self, key: str) -> str:
        return f"{self.workflow_id}.{key}"


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError(f"a workflow data key is a non-empty string, not {key!r}")
