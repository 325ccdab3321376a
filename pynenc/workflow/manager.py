"""``app.workflows``: workflows seen from outside — list, show, resume, cancel."""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import WorkflowNotPausedError
from pynenc.records import (
    InvocationRecord,
    InvocationStatus,
    InvocationSummary,
    StatusEntry,
    StatusUpdate,
)
from pynenc.workflow.identity import is_workflow_task
from pynenc.workflow.journal import (
    NS_JOURNAL,
    journal_key,
    last_state,
    read_journal,
    read_run,
    to_json,
    write_run,
)
from pynenc.workflow.moves import resume_entry
from pynenc.workflow.overview import RunSummary, called, records_of, runs_of
from pynenc.workflow.workflow_context import WorkflowContext, context_for

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.cancellation import Cancellation
    from pynenc.invocation.base import BaseInvocation
    from pynenc.invocation.sync import SyncInvocation
    from pynenc.state_backend.base import StateBackend
    from pynenc.task import Task

S = InvocationStatus
#: paused dev-sync-mode workflows kept for a resume (the oldest are forgotten)
SYNC_PAUSED_KEPT = 1000
#: finished dev-sync-mode workflows whose journals are kept (the oldest are dropped)
SYNC_FINISHED_KEPT = 1000


@dataclass
class WorkflowInfo:
    """What ``app.workflows.get`` (and ``pynenc workflow show``) tells of a workflow."""

    workflow_id: str
    task_id: str
    status: InvocationStatus
    parent_id: str | None
    run: int  #: the current (or last) run
    #: the earlier runs remembered (``{"run": n, "ended": timestamp}``), oldest first
    runs: list[dict[str, Any]]
    state: Any  #: the current run's saved state (``None``: none saved)
    #: the current run's journal: one entry per step (``k``: the operation; ``v``: its value)
    steps: list[dict[str, Any]]
    children: list[str]  #: invocations it called (the first ``limit``)
    history: list[StatusEntry] = field(default_factory=list)

    @property
    def paused_reason(self) -> str | None:
        """Why it is paused (the reason given to ``wf.pause``), when PAUSED."""
        if self.status is not S.PAUSED:
            return None
        for entry in reversed(self.steps):
            if entry.get("k") == "pause" and not entry.get("resumed"):
                return str(entry.get("reason", ""))
        return ""

    @property
    def called(self) -> list[str]:
        """The invocations the current run's ``execute_task(s)`` steps called, in order."""
        return called(self.steps)


class Workflows:
    """The workflows of an app (``app.workflows``)."""

    def __init__(self, app: Pynenc) -> None:
        self.app = app
        self._sync_paused: OrderedDict[str, SyncInvocation[Any, Any]] = OrderedDict()
        #: workflows that finished in dev sync mode, oldest first (their journals are kept)
        self._sync_finished: OrderedDict[str, None] = OrderedDict()

    @cached_property
    def sync_backend(self) -> StateBackend:
        """Where dev sync mode keeps workflows: in this process, never the app's backend."""
        from pynenc.state_backend.memory import MemoryStateBackend

        return MemoryStateBackend(f"{self.app.app_id}:sync-workflows")

    def context(self, task: Task[Any, Any]) -> WorkflowContext:
        """``task.wf``: the workflow context of the invocation of ``task`` running here."""
        return context_for(task)

    # -- acting ----------------------------------------------------------------------------

    def resume(self, workflow_id: str, value: Any = None) -> BaseInvocation[Any, Any]:
        """Continue a PAUSED workflow: its body runs again from the start, replaying its
        recorded steps, and the ``wf.pause()`` it stopped at returns ``value`` (JSON).
        Returns its invocation (wait for ``.result`` as usual).

        :raises WorkflowNotPausedError: it is not PAUSED (running, finished, resumed already).
        :raises InvocationNotFoundError: no such invocation.
        :raises WorkflowStateError: ``value`` is not JSON.
        """
        to_json(value, "the resume value")
        paused = self._sync_paused.pop(workflow_id, None)
        if paused is not None:
            self._mark_resumed(self.sync_backend, workflow_id, value)
            paused.resume_inline()
            return paused
        app = self.app
        record = app.state_backend.get(workflow_id)
        if record is None:
            if self._ran_inline(workflow_id):
                raise WorkflowNotPausedError(_not_paused_inline(workflow_id))
            record = app.orchestrator.get_record(workflow_id)  # raises: no such invocation
        if record.status is not S.PAUSED:
            raise WorkflowNotPausedError(_not_paused(record))
        entry = StatusEntry(S.REGISTERED, time.time(), _actor(), "resumed")
        update = StatusUpdate(workflow_id, frozenset({S.PAUSED}), entry)
        if not app.state_backend.set_status(update):
            raise WorkflowNotPausedError(_not_paused(app.orchestrator.get_record(workflow_id)))
        # only the caller that took it out of PAUSED marks the pause: its value is replayed
        # (no runner can start it before the publish below)
        self._mark_resumed(app.state_backend, workflow_id, value)
        record.status = S.REGISTERED
        app.broker.publish([app.orchestrator.envelope_for(record)])
        return app.invocation(workflow_id)

    def _mark_resumed(self, backend: StateBackend, workflow_id: str, value: Any) -> None:
        info = read_run(backend, workflow_id)
        key, entry = resume_entry(backend, workflow_id, info)
        entry.update(resumed=True, value=value)
        backend.put_value(NS_JOURNAL, key, to_json(entry, "the resume value"))
        if info is not None and info.paused is not None:
            info.paused = None
            write_run(backend, workflow_id, info)

    def _ran_inline(self, workflow_id: str) -> bool:
        """Whether workflow ``workflow_id`` ran in dev sync mode in this process (it left
        its run info or a journal step in :attr:`sync_backend`)."""
        if "sync_backend" not in self.__dict__:
            return False
        backend = self.sync_backend
        if read_run(backend, workflow_id) is not None:
            return True
        return backend.has_values(NS_JOURNAL, [journal_key(workflow_id, 1, 1)])[0]

    def keep_paused(self, invocation: SyncInvocation[Any, Any]) -> None:
        """Remember a workflow paused in dev sync mode, for :meth:`resume`."""
        self._sync_paused[invocation.invocation_id] = invocation
        if len(self._sync_paused) > SYNC_PAUSED_KEPT:
            self._forget_inline(self._sync_paused.popitem(last=False)[0])

    def finished_inline(self, workflow_id: str) -> None:
        """Workflow ``workflow_id``, run in dev sync mode, can no longer be resumed: what it
        left in :attr:`sync_backend` is kept for the last :data:`SYNC_FINISHED_KEPT` such
        workflows only (the oldest one's is dropped), so a process that runs workflows
        inline for days does not grow."""
        self._sync_finished[workflow_id] = None
        self._sync_finished.move_to_end(workflow_id)
        while len(self._sync_finished) > SYNC_FINISHED_KEPT:
            self._forget_inline(self._sync_finished.popitem(last=False)[0])

    def _forget_inline(self, workflow_id: str) -> None:
        """Drop the run info, journals, state and data of workflow ``workflow_id`` and of
        the tasks it called (keys of its id, or of ids derived from it) from
        :attr:`sync_backend` (nothing reads them: ``get`` reads the app's state backend)."""
        own, derived = f"{workflow_id}.", f"{workflow_id}-wf"
        if any(paused.startswith(derived) for paused in self._sync_paused):
            return  # a task it called is paused, its journal kept for its resume
        store: Any = self.sync_backend._store  # type: ignore[attr-defined]  # its own
        with store.lock:
            gone = [
                name
                for name in store.values
                if name[1] == workflow_id or name[1].startswith((own, derived))
            ]
            for name in gone:
                del store.values[name]

    def cancel(
        self, workflow_id: str, reason: str | None = None, *, by: str | None = None
    ) -> Cancellation:
        """Cancel a workflow (paused or not) unless it has finished; waiters get
        ``InvocationCancelledError``. Its children are not cancelled. ``by``: who cancels
        it, kept in its history."""
        paused = self._sync_paused.pop(workflow_id, None)
        if paused is not None:
            answer = paused.cancel_paused(reason)
            self.finished_inline(workflow_id)
            return answer
        return self.app.orchestrator.cancel(workflow_id, by=by, reason=reason)

    # -- reading ---------------------------------------------------------------------------

    def get(self, workflow_id: str, children: int = 100) -> WorkflowInfo:
        """Everything known of workflow ``workflow_id``: status, runs, state, the current
        run's recorded steps, children.

        :raises InvocationNotFoundError: no such invocation.
        """
        app = self.app
        backend = app.state_backend
        record = app.orchestrator.get_record(workflow_id)
        info = read_run(backend, workflow_id)
        run = 1 if info is None else info.run
        steps = read_journal(backend, workflow_id, run)
        return WorkflowInfo(
            workflow_id,
            record.task_id,
            record.status,
            record.parent_id,
            run,
            [] if info is None else list(info.runs),
            last_state(steps),
            steps,
            backend.children(workflow_id, children),
            backend.history(workflow_id),
        )

    def list(
        self,
        limit: int = 50,
        *,
        statuses: list[InvocationStatus] | None = None,
        task_id: str | None = None,
    ) -> list[InvocationSummary]:
        """Recent workflows, newest first: invocations of the app's workflow tasks (those
        whose function uses ``wf``), and every PAUSED invocation."""
        backend = self.app.state_backend
        keys = (
            [task_id]
            if task_id is not None
            else sorted(k for k, t in self.app.tasks.items() if is_workflow_task(t))
        )
        found: dict[str, InvocationSummary] = {}
        for key in keys:
            for summary in backend.recent(limit, task_id=key, statuses=statuses):
                found[summary.invocation_id] = summary
        if task_id is None and (statuses is None or S.PAUSED in statuses):
            for summary in backend.recent(limit, statuses=[S.PAUSED]):
                found[summary.invocation_id] = summary
        return heapq.nlargest(limit, found.values(), key=lambda s: s.registered)

    def runs(self, workflow_ids: Sequence[str]) -> dict[str, RunSummary]:
        """The run each workflow is in and, for one stopped at a pause, the pause's step and
        reason: two reads however many they are (for listings, after :meth:`list`)."""
        return runs_of(self.app.state_backend, workflow_ids)

    def records(self, invocation_ids: Sequence[str]) -> dict[str, InvocationRecord | None]:
        """The record of each invocation (task, status, result; ``None``: unknown) in one
        read: a workflow's children, as :meth:`get` names them (``WorkflowInfo.children``,
        and ``WorkflowInfo.called``: those its ``execute_task(s)`` steps called)."""
        return records_of(self.app.state_backend, invocation_ids)


def _not_paused(record: InvocationRecord) -> str:
    return (
        f"Workflow {record.invocation_id} ({record.task_id}) is {record.status.name}, not "
        "PAUSED: only a paused workflow can be resumed."
    )


def _not_paused_inline(workflow_id: str) -> str:
    return (
        f"Workflow {workflow_id} ran in dev sync mode and is not PAUSED: it finished, was "
        "resumed or cancelled already (or is older than the last "
        f"{SYNC_PAUSED_KEPT} paused ones kept). Only a paused workflow can be resumed."
    )


def _actor() -> str:
    import os
    import socket

    return f"resume@{socket.gethostname()}:{os.getpid()}"
