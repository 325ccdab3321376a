"""How ``pynenc workflow show`` prints a workflow and what its ``--json`` holds: the
journal's steps as readable lines (``3  random  0.123``), with the status of each child a
step called."""

from __future__ import annotations

import json
from typing import Any

from pynenc.orchestrator.scheduling import iso
from pynenc.records import InvocationStatus
from pynenc.workflow import WorkflowInfo

#: a value shown in a journal line is cut to this many characters
SHOWN = 100
#: an ``execute_tasks`` step lists at most this many of its invocations
CALLS_SHOWN = 10

Statuses = dict[str, InvocationStatus | None]


def status_name(status: InvocationStatus | None) -> str:
    """A status as listed: its name, ``GONE`` for a record that is no longer stored."""
    return "GONE" if status is None else status.name


def compact(value: Any) -> str:
    """A JSON value on one line, cut to :data:`SHOWN` characters."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def step_lines(number: int, entry: dict[str, Any], statuses: Statuses) -> list[str]:
    """What a journal step says: ``(number, operation, value)`` on one line, and for an
    ``execute_tasks`` step one more line per invocation it called."""
    kind = str(entry.get("k", "?"))
    detail = entry.get("t")
    if kind == "execute_task":
        called = str(entry.get("v"))
        return [f"{detail} -> {called} ({status_name(statuses.get(called))})"]
    if kind == "execute_tasks":
        ids = [str(v) for v in entry.get("v") or ()]
        counts: dict[str, int] = {}
        for inv in ids:
            name = status_name(statuses.get(inv))
            counts[name] = counts.get(name, 0) + 1
        summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
        lines = [f"{detail} -> {len(ids)} invocations ({summary or 'none'})"]
        lines += [f"  {inv} ({status_name(statuses.get(inv))})" for inv in ids[:CALLS_SHOWN]]
        if len(ids) > CALLS_SHOWN:
            lines.append(f"  … and {len(ids) - CALLS_SHOWN} more (--json lists them)")
        return lines
    if kind == "pause":
        reason = json.dumps(str(entry.get("reason", "")), ensure_ascii=False)
        if entry.get("resumed"):
            return [f"{reason} -> resumed with {compact(entry.get('value'))}"]
        return [f"{reason} (paused here)"]
    if kind in ("get_data", "set_data"):
        key = json.dumps(detail, ensure_ascii=False)
        return [f"{key} -> {compact(entry.get('v'))}" if kind == "get_data" else key]
    if "v" in entry:
        return [compact(entry["v"])]
    return [""]


def journal_lines(steps: list[dict[str, Any]], statuses: Statuses) -> list[str]:
    """The journal as ``show`` prints it: step number, operation, value, aligned."""
    width = max((len(str(e.get("k", "?"))) for e in steps), default=0)
    digits = len(str(len(steps)))
    lines = []
    for number, entry in enumerate(steps, start=1):
        first, *more = step_lines(number, entry, statuses)
        head = f"  {number:>{digits}}  {entry.get('k', '?')!s:<{width}}  {first}"
        lines.append(head.rstrip())
        indent = " " * (2 + digits + 2 + width + 2)
        lines += [f"{indent}{line}" for line in more]
    return lines


def step_document(number: int, entry: dict[str, Any], statuses: Statuses) -> dict[str, Any]:
    """A journal step in ``--json``: ``step``, ``op``, ``detail`` (the task called, the
    data key), ``value``, and the invocations it called with their statuses."""
    kind = entry.get("k")
    document: dict[str, Any] = {"step": number, "op": kind, "detail": entry.get("t")}
    if kind == "pause":
        document.update(
            reason=entry.get("reason", ""),
            resumed=bool(entry.get("resumed")),
            value=entry.get("value"),
        )
        return document
    document["value"] = entry.get("v")
    if kind in ("execute_task", "execute_tasks"):
        ids = [str(entry.get("v"))] if kind == "execute_task" else list(entry.get("v") or ())
        document["calls"] = [
            {"invocation_id": inv, "status": status_name(statuses.get(inv))} for inv in ids
        ]
    return document


def info_document(
    info: WorkflowInfo,
    statuses: Statuses,
    children: list[tuple[str, str | None]],
    more_children: bool,
    outcome: dict[str, str | None],
) -> dict[str, Any]:
    """``pynenc workflow show --json``: everything ``show`` prints, in a stable shape."""
    registered = info.history[0].timestamp if info.history else None
    parent = info.parent_id
    return {
        "workflow_id": info.workflow_id,
        "task": info.task_id,
        "status": info.status.name,
        "paused_reason": info.paused_reason,
        "parent_id": parent,
        "parent_status": None if parent is None else status_name(statuses.get(parent)),
        "registered": registered,
        "registered_utc": None if registered is None else iso(registered),
        "run": info.run,
        "earlier_runs": [
            {"run": r.get("run"), "ended": r.get("ended"), "ended_utc": _iso(r.get("ended"))}
            for r in info.runs
        ],
        "earlier_runs_not_kept": max(0, info.run - 1 - len(info.runs)),
        "state": info.state,
        "journal": [
            step_document(n, entry, statuses) for n, entry in enumerate(info.steps, start=1)
        ],
        "children": [
            {"invocation_id": inv, "task": task, "status": status_name(statuses.get(inv))}
            for inv, task in children
        ],
        "more_children": more_children,
        "history": [
            {
                "status": e.status.name,
                "timestamp": e.timestamp,
                "utc": iso(e.timestamp),
                "runner": e.runner_id,
                "reason": e.reason,
            }
            for e in info.history
        ],
        **outcome,
    }


def _iso(timestamp: Any) -> str | None:
    return iso(float(timestamp)) if isinstance(timestamp, int | float) else None
