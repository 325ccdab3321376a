"""``pynenc workflow list|show|resume|cancel``: the app's workflows (tasks whose function
uses ``task.wf``) seen and driven from the command line, through ``app.workflows``.

Exit codes: 0; 1 for an unknown id, an invocation that is not a workflow, a resume of a
workflow that is not PAUSED or a state backend that cannot be reached; 2 for bad usage
(``--value`` that is not JSON); ``cancel``: 3 when the workflow had already finished.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from pynenc.app import Pynenc
from pynenc.cli.cancel import EXIT_ALREADY_FINISHED, _who
from pynenc.cli.common import (
    age,
    listing_limit,
    load,
    printed_warnings,
    status_filter,
    table,
    warn,
)
from pynenc.cli.inspect import _note_local_state, _show_result
from pynenc.cli.trigger_view import wall_clock
from pynenc.cli.workflow_view import (
    compact,
    info_document,
    journal_lines,
    status_name,
)
from pynenc.exceptions import PynencError
from pynenc.orchestrator.scheduling import iso
from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.workflow.identity import is_workflow_task
from pynenc.workflow.overview import is_workflow

S = InvocationStatus


@click.group("workflow")
def workflow() -> None:
    """List, show, resume and cancel workflows (tasks whose function uses task.wf)."""


# -- list -----------------------------------------------------------------------------------


@workflow.command("list")
@status_filter
@click.option("--task", "task_id", default=None, help="Only this workflow task (module.function).")
@listing_limit
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@click.pass_context
def list_workflows(
    ctx: click.Context,
    statuses: tuple[str, ...],
    task_id: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List recent workflows, newest first: id, task, status, run, registration time, and
    why a PAUSED one is paused. Workflows are the invocations of the app's tasks that use
    task.wf, and every PAUSED invocation."""
    app = load(ctx)
    if task_id is not None:
        _check_task(app, task_id)
    wanted = [InvocationStatus[name.upper()] for name in statuses] or None
    try:
        found = app.workflows.list(limit, statuses=wanted, task_id=task_id)
        runs = app.workflows.runs([s.invocation_id for s in found])
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        shown = [
            {
                "workflow_id": s.invocation_id,
                "task": s.task_id,
                "status": s.status.name,
                "run": runs[s.invocation_id].run,
                "registered": s.registered,
                "registered_utc": iso(s.registered),
                "paused_reason": runs[s.invocation_id].paused_reason
                if s.status is S.PAUSED
                else None,
            }
            for s in found
        ]
        click.echo(json.dumps({"app": app.app_id, "workflows": shown}, indent=2))
        return
    _note_local_state(app)
    if not found:
        click.echo(f"No workflows match for app {app.app_id!r}.")
        return
    now, zone = time.time(), app.conf.timezone
    rows: list[tuple[str, ...]] = [
        (
            s.invocation_id,
            s.task_id,
            s.status.name,
            str(runs[s.invocation_id].run),
            f"{wall_clock(s.registered, zone)} ({age(now - s.registered)} ago)",
        )
        for s in found
    ]
    headers: tuple[str, ...] = ("WORKFLOW", "TASK", "STATUS", "RUN", "REGISTERED")
    if any(s.status is S.PAUSED for s in found):
        headers += ("PAUSED BECAUSE",)  # shown only when something is paused
        rows = [
            (*row, _reason(runs[s.invocation_id].paused_reason) if s.status is S.PAUSED else "")
            for row, s in zip(rows, found, strict=True)
        ]
    table(headers, rows)
    if len(found) == limit:
        click.echo(f"(the {limit} newest; --limit shows more)", err=True)


def _reason(reason: str | None) -> str:
    return reason if reason else "(no reason given)"


def _check_task(app: Pynenc, task_id: str) -> None:
    """Warn about a ``--task`` that names no task of the app, or one that does not use wf
    (its invocations are listed, but they are not workflows)."""
    task = app.tasks.get(task_id)
    if task is not None and is_workflow_task(task):
        return
    known = sorted(key for key, t in app.tasks.items() if is_workflow_task(t))
    tasks = f"its workflow tasks: {', '.join(known) or 'none'}"
    with printed_warnings():
        if task is None:
            warn(f"app {app.app_id!r} has no task {task_id!r} ({tasks})")
        else:
            warn(
                f"task {task_id!r} does not use task.wf: its invocations are listed, but "
                f"they are not workflows ({tasks})"
            )


# -- show -----------------------------------------------------------------------------------


@workflow.command("show")
@click.argument("workflow_id")
@click.option(
    "--children",
    "children_limit",
    type=click.IntRange(min=0, max=10_000),
    default=20,
    show_default=True,
    help="List at most this many children.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@click.pass_context
def show(ctx: click.Context, workflow_id: str, children_limit: int, as_json: bool) -> None:
    """Show a workflow: status, task, parent, its runs, its saved state, the journal of the
    current run (step, operation, value; each child called with its status), its children
    and why it is paused."""
    app = load(ctx)
    try:
        record = _workflow_record(app, workflow_id)
        info = app.workflows.get(workflow_id, children=children_limit + 1)
        kids = info.children[:children_limit]
        parent = [] if info.parent_id is None else [info.parent_id]
        records = app.workflows.records([*parent, *info.called, *kids])
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    statuses = {inv: None if r is None else r.status for inv, r in records.items()}
    children = [(inv, _task_of(records.get(inv))) for inv in kids]
    more = len(info.children) > children_limit
    outcome = _outcome(app, record)
    if as_json:
        document = info_document(info, statuses, children, more, outcome)
        click.echo(json.dumps(document, indent=2, default=str, ensure_ascii=False))
        return
    _note_local_state(app)
    zone, now = app.conf.timezone, time.time()
    click.echo(f"workflow    {info.workflow_id}")
    click.echo(f"task        {info.task_id}")
    click.echo(f"status      {info.status.name}")
    if info.status is S.PAUSED:
        click.echo(f"paused      {_reason(info.paused_reason)}")
        click.echo(f"            resume: pynenc workflow resume {info.workflow_id} [--value JSON]")
    if info.parent_id is not None:
        status = status_name(statuses.get(info.parent_id))
        click.echo(
            f"parent      {info.parent_id} ({_task_of(records.get(info.parent_id))}, {status})"
        )
    if info.history:
        first = info.history[0].timestamp
        click.echo(f"registered  {wall_clock(first, zone)} ({age(now - first)} ago)")
    click.echo(f"run         {info.run}{_earlier(info.run, info.runs)}")
    for earlier in info.runs:
        ended = earlier.get("ended")
        when = wall_clock(float(ended), zone) if isinstance(ended, int | float) else "?"
        click.echo(f"            run {earlier.get('run')} ended {when} (continue-as-new)")
    if outcome["result"] is not None:
        click.echo(f"result      {outcome['result']}")
    if outcome["error"] is not None:
        click.echo(f"error       {outcome['error']}")
    if info.state is None:
        click.echo("state       none saved")
    else:
        click.echo("state")
        pretty = json.dumps(info.state, indent=2, ensure_ascii=False, default=str)
        click.echo("\n".join(f"  {line}" for line in pretty.splitlines()))
    if info.steps:
        click.echo(f"journal     run {info.run}, {len(info.steps)} step(s)")
        click.echo("\n".join(journal_lines(info.steps, statuses)))
    else:
        click.echo(f"journal     run {info.run}, no steps recorded yet")
    if children:
        note = f" (the first {children_limit}; --children shows more)" if more else ""
        click.echo(f"children    {len(children)}{note}")
        rows = [(inv, task or "?", status_name(statuses.get(inv))) for inv, task in children]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            click.echo(("  " + "  ".join(cells)).rstrip())
    elif more:
        click.echo("children    some (--children N lists them)")


def _workflow_record(app: Pynenc, workflow_id: str) -> InvocationRecord:
    """The record of workflow ``workflow_id``: the usual not-found error for an unknown id,
    and one for an invocation that is not a workflow."""
    record = app.orchestrator.get_record(workflow_id)
    if not is_workflow(app, record):
        raise click.ClickException(
            f"Invocation {workflow_id} ({record.task_id}, {record.status.name}) is not a "
            "workflow: its task does not use task.wf. 'pynenc status "
            f"{workflow_id}' shows it; 'pynenc cancel {workflow_id}' cancels it."
        )
    return record


def _task_of(record: InvocationRecord | None) -> str | None:
    return None if record is None else record.task_id


def _earlier(run: int, runs: list[dict[str, Any]]) -> str:
    if run == 1:
        return ""
    older = run - 1 - len(runs)
    kept = f", the last {len(runs)} listed" if older > 0 else ""
    return f" (after {run - 1} earlier run(s) ended by continue-as-new{kept})"


def _outcome(app: Pynenc, record: InvocationRecord) -> dict[str, str | None]:
    """The result (as text) of a workflow that succeeded, the error of one that did not."""
    result = error = None
    if record.status is S.SUCCESS and record.result is not None:
        result = _show_result(app, record.result, record.serializer)
    if record.error is not None:
        error = f"{record.error.get('type')}: {record.error.get('message')}"
    return {"result": result, "error": error}


# -- resume and cancel ----------------------------------------------------------------------


@workflow.command("resume")
@click.argument("workflow_id")
@click.option(
    "--value",
    default=None,
    metavar="JSON",
    help="What the wf.pause() it stopped at returns, a JSON value: 'true', '{\"ok\": 1}', "
    "'\"text\"' (default: null).",
)
@click.pass_context
def resume(ctx: click.Context, workflow_id: str, value: str | None) -> None:
    """Resume a PAUSED workflow: it is published again, its body runs from the start
    replaying its journal, and the wf.pause() it stopped at returns --value.

    Exits 0 when resumed, 1 when it is not PAUSED (or unknown), 2 when --value is not JSON.
    """
    parsed = _json_value(value)
    app = load(ctx)
    try:
        record = _workflow_record(app, workflow_id)
        before = app.workflows.runs([workflow_id])[workflow_id]
        app.workflows.resume(workflow_id, parsed)
        alive = app.state_backend.runners()
    except PynencError as exc:  # not paused, unknown, or the state backend unreachable
        raise click.ClickException(str(exc)) from exc
    where = "" if before.paused_step is None else f" at step {before.paused_step}"
    reason = f"({json.dumps(before.paused_reason or '', ensure_ascii=False)})"
    click.echo(
        f"Resumed workflow {workflow_id} ({record.task_id}): the wf.pause{reason}{where} of "
        f"run {before.run} returns {compact(parsed)}. It is REGISTERED again; a runner "
        f"replays its journal and goes on from there (pynenc workflow show {workflow_id})."
    )
    if not alive:
        with printed_warnings():
            warn(f"no runner heartbeats for app {app.app_id!r}: it runs once one starts")


def _json_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError as exc:  # (json.JSONDecodeError is one)
        raise click.BadParameter(
            f"{text!r} is not JSON ({exc}). Quote it for the shell, e.g. --value "
            "'{\"approved\": true}', or --value '\"text\"' for a string.",
            param_hint="'--value'",
        ) from exc


def _not_json(constant: str) -> None:
    """``json.loads`` takes ``NaN`` and ``Infinity``; JSON does not."""
    raise ValueError(f"{constant} is not a JSON value")


@workflow.command("cancel")
@click.argument("workflow_id")
@click.option("--reason", default=None, help="Why, kept in the history and the error.")
@click.pass_context
def cancel(ctx: click.Context, workflow_id: str, reason: str | None) -> None:
    """Cancel a workflow, paused or not, unless it has finished; waiters get
    InvocationCancelledError. The children it called are not cancelled.

    Exits 0 when cancelled, 3 when it had already finished (nothing changed), 1 on error.
    """
    app = load(ctx)
    try:
        _workflow_record(app, workflow_id)
        answer = app.workflows.cancel(workflow_id, reason, by=_who("pynenc workflow cancel"))
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(answer.message)
    if not answer.cancelled:
        ctx.exit(EXIT_ALREADY_FINISHED)
