"""Many workflows at a glance, in batched reads (for listings such as ``pynenc workflow
list`` and ``show``): the run each one is in and why a paused one is paused, the
invocations a run's journal names, and their records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import PynencError
from pynenc.workflow.identity import is_workflow_task
from pynenc.workflow.journal import NS_JOURNAL, NS_RUN, RunInfo, journal_key

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.records import InvocationRecord
    from pynenc.state_backend.base import StateBackend

#: the journal operations that call tasks (their value names the invocations)
CALLS = ("execute_task", "execute_tasks")


@dataclass(frozen=True)
class RunSummary:
    """The run a workflow is in, and the pause it is stopped at, if any."""

    run: int  #: 1, then one more for each continue_as_new
    #: the journal step of the pause it is stopped at (``None``: not stopped at a pause)
    paused_step: int | None = None
    #: the reason given to that ``wf.pause`` (``None``: not stopped at a pause)
    paused_reason: str | None = None


def runs_of(backend: StateBackend, workflow_ids: Sequence[str]) -> dict[str, RunSummary]:
    """The :class:`RunSummary` of each workflow: two reads, whatever their number (a
    workflow that has not run yet is in run 1)."""
    ids = list(dict.fromkeys(workflow_ids))
    if not ids:
        return {}
    infos = [RunInfo.decode(text) for text in backend.get_values(NS_RUN, ids)]
    paused = [
        (wid, info.run, info.paused)
        for wid, info in zip(ids, infos, strict=True)
        if info is not None and info.paused is not None
    ]
    keys = [journal_key(wid, run, step) for wid, run, step in paused]
    texts = backend.get_values(NS_JOURNAL, keys) if keys else []
    reasons = {
        wid: (step, _reason(text)) for (wid, _, step), text in zip(paused, texts, strict=True)
    }
    found = {}
    for wid, info in zip(ids, infos, strict=True):
        step, reason = reasons.get(wid, (None, None))
        found[wid] = RunSummary(1 if info is None else info.run, step, reason)
    return found


def _reason(text: str | None) -> str:
    entry = {} if text is None else json.loads(text)
    return str(entry.get("reason", ""))


def called(steps: Sequence[dict[str, Any]]) -> list[str]:
    """The invocations the ``execute_task(s)`` steps of a journal called, in step order."""
    ids: list[str] = []
    for entry in steps:
        if entry.get("k") == "execute_task":
            ids.append(str(entry.get("v")))
        elif entry.get("k") == "execute_tasks":
            ids.extend(str(v) for v in entry.get("v") or ())
    return ids


def records_of(
    backend: StateBackend, invocation_ids: Sequence[str]
) -> dict[str, InvocationRecord | None]:
    """The record of each invocation (``None``: unknown, purged) in one read."""
    ids = list(dict.fromkeys(invocation_ids))
    if not ids:
        return {}
    return dict(zip(ids, backend.get_many(ids), strict=True))


def is_workflow(app: Pynenc, record: InvocationRecord) -> bool:
    """Whether ``record`` is a workflow's: its task uses ``wf`` (a task this process cannot
    import counts as one), or it is PAUSED."""
    from pynenc.records import InvocationStatus

    if record.status is InvocationStatus.PAUSED:
        return True
    task = app.tasks.get(record.task_id)
    if task is None:
        try:
            task = app.resolve_task(record.task_id)
        except PynencError:
            return True
    return is_workflow_task(task)
