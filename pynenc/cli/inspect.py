"""Inspection commands: ``status`` of one invocation, the live ``runners``, recent
``invocations`` (to find an id without having kept it)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import click

from pynenc.app import Pynenc
from pynenc.cli import tree
from pynenc.cli.common import age, listing_limit, load, status_filter, table
from pynenc.cli.trigger_view import triggered_by
from pynenc.conf.masking import masked_url
from pynenc.exceptions import PynencError
from pynenc.invocation import progress
from pynenc.records import InvocationStatus, StatusEntry, root_of
from pynenc.serializer import deserialize_result
from pynenc.trigger.firing import HEADER

#: ``status`` exits with this code for a FAILED, EXPIRED or CANCELLED invocation (0 otherwise).
EXIT_FAILED = 1
#: Final statuses that are not a success (``status`` exits with ``EXIT_FAILED``).
_UNSUCCESSFUL = frozenset(
    {InvocationStatus.FAILED, InvocationStatus.EXPIRED, InvocationStatus.CANCELLED}
)


@click.command("status")
@click.argument("invocation_id")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=10_000),
    default=20,
    show_default=True,
    help="List at most this many children, invocations waited for and followers.",
)
@click.pass_context
def status(ctx: click.Context, invocation_id: str, limit: int) -> None:
    """Show an invocation's status, call tree (parent, children), composition (what it
    waits for and receives, its followers and who published them), history and result or
    error.

    Exits 0, or 1 when the invocation FAILED, EXPIRED or was CANCELLED (or is unknown).
    """
    app = load(ctx)
    try:
        record = app.orchestrator.get_record(invocation_id)
        history = app.state_backend.history(invocation_id)
        last_progress = progress.read(app.state_backend, invocation_id)
        around = tree.read(app.state_backend, record, limit)
    except PynencError as exc:  # unknown, or the state backend unreachable
        raise click.ClickException(str(exc)) from exc
    click.echo(f"invocation  {record.invocation_id}")
    click.echo(f"task        {record.task_id}")
    click.echo(f"status      {record.status.name}")
    click.echo(f"retries     {record.num_retries}")
    if record.owner:
        click.echo(f"runner      {record.owner}")
    now = time.time()
    finished = record.status.is_final
    if record.due is not None:  # a due time still ahead of a finished invocation never comes
        # (unless it was held back by a limit and woken early: it ran before its due time)
        never = " — it will not run" if finished and record.due > now and not _ran(history) else ""
        click.echo(f"due         {_when(record.due, now)}{never}")
    if record.status is InvocationStatus.SCHEDULED and history and history[-1].reason:
        # why it waits: a retry's delay, or held back by a running slot or a rate limit
        click.echo(f"waiting     {history[-1].reason}")
    if record.expires is not None:
        click.echo(f"expires     {_when(record.expires, now)}")
    if record.priority is not None:
        click.echo(f"priority    {record.priority}")
    if record.parent_id is not None:
        root = root_of(record.invocation_id, record.parent_id, record.root_id)
        root_note = "" if root == record.parent_id else f"  (root {root})"
        click.echo(f"parent      {record.parent_id}{root_note}")
    tree.show(around, limit)
    if record.serializer is not None:
        click.echo(f"serializer  {record.serializer}")
    if record.headers is not None and HEADER in record.headers:
        lines = triggered_by(record.headers[HEADER], app.conf.timezone)
        click.echo("\n".join([f"triggered   {lines[0]}", *(f"  {line}" for line in lines[1:])]))
    if record.headers is not None:
        shown = json.dumps(record.headers)
        click.echo(f"headers     {shown if len(shown) <= 200 else shown[:197] + '...'}")
    limits = _limits(app, record.task_id)
    if limits:
        click.echo(f"limits      {limits}")
    if record.status is InvocationStatus.CANCELLED and history:
        last = history[-1]
        when = dt.datetime.fromtimestamp(last.timestamp, dt.UTC).isoformat(timespec="milliseconds")
        why = f": {last.reason}" if last.reason else ""
        click.echo(f"cancelled   by {last.runner_id or '?'} at {when}{why}")
    click.echo("history:")
    for entry in history:
        when = _iso(entry.timestamp)
        extra = "".join(f"  {x}" for x in (entry.runner_id, entry.reason) if x)
        click.echo(f"  {when}  {entry.status.name:<10}{extra}".rstrip())
    if last_progress is not None:
        click.echo(f"progress    {_show_progress(last_progress)}")
    if record.result is not None:
        click.echo(f"result      {_show_result(app, record.result, record.serializer)}")
    if record.error is not None:
        headline = f"{record.error.get('type')}: {record.error.get('message')}"
        upstream = record.error.get("upstream")
        came = f"  (from {upstream}, which it waited for: not run)" if upstream else ""
        click.echo(f"error       {headline}{came}")
        traceback = record.error.get("traceback")
        if traceback and traceback.strip() != headline.strip():  # not raised: no frames
            click.echo(traceback.rstrip())
    if record.status in _UNSUCCESSFUL:
        ctx.exit(EXIT_FAILED)


def _ran(history: list[StatusEntry]) -> bool:
    """Whether it ran after it was last SCHEDULED (a held-back invocation woken early)."""
    statuses = [entry.status for entry in history]
    if InvocationStatus.SCHEDULED not in statuses:
        return False
    last = len(statuses) - 1 - statuses[::-1].index(InvocationStatus.SCHEDULED)
    return InvocationStatus.RUNNING in statuses[last:]


def _show_progress(last: progress.Progress) -> str:
    meta = "" if last.meta is None else " " + json.dumps(last.meta)
    if len(meta) > 200:
        meta = meta[:197] + "..."
    return f"{last.state}{meta}  (updated {age(time.time() - last.updated)} ago)"


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


def _when(timestamp: float, now: float) -> str:
    """A time with how far it is: ``2025-01-01T09:00:00.000+00:00 (in 12s)``."""
    offset = timestamp - now
    relative = f"in {age(offset)}" if offset >= 0 else f"{age(-offset)} ago"
    return f"{_iso(timestamp)} ({relative})"


def _limits(app: Pynenc, task_id: str) -> str:
    """The task's time limits as this app configures them (``""``: none, or unknown task)."""
    task = app.tasks.get(task_id)
    if task is None:
        return ""
    limits = [
        f"{name} {value:g} s"
        for name, value in (
            ("timeout", task.conf.timeout),
            ("soft_timeout", task.conf.soft_timeout),
        )
        if value is not None
    ]
    return ", ".join(limits)


def _show_result(app: Pynenc, encoded: str, serializer: str | None = None) -> str:
    try:
        value: Any = deserialize_result(
            app.serializer_for(serializer), app.client_data_store.resolve_value(encoded)
        )
    except PynencError:
        return f"(cannot decode here) {encoded[:200]}"
    return repr(value)


@click.command("runners")
@click.pass_context
def runners(ctx: click.Context) -> None:
    """List the runners that heartbeat: kind, host, pid, queues, slots, last heartbeat.

    A runner silent for longer than runner.dead_after is marked dead (recovery reroutes
    its work and forgets it).
    """
    app = load(ctx)
    backend = app.state_backend
    try:
        beats, infos = backend.runners(), backend.runner_infos()
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    _note_local_state(app)
    if not beats:
        click.echo(f"No runners heartbeat for app {app.app_id!r}.")
        return
    now, dead_after = time.time(), app.conf.runner.dead_after
    rows = []
    for runner_id, last in sorted(beats.items()):
        info = infos.get(runner_id, {})
        silent = now - last
        rows.append(
            (
                runner_id,
                str(info.get("kind", "?")),
                str(info.get("host", "?")),
                str(info.get("pid", "?")),
                ",".join(info.get("queues", ())) or "?",
                str(info.get("slots") or "?"),
                f"{age(silent)} ago",
                "dead" if silent > dead_after else "alive",
            )
        )
    headers = ("RUNNER", "KIND", "HOST", "PID", "QUEUES", "SLOTS", "HEARTBEAT", "STATE")
    table(headers, rows)


@click.command("invocations")
@status_filter
@click.option("--task", "task_id", default=None, help="Only this task id (module.function).")
@click.option("--queue", default=None, help="Only invocations sent to this queue.")
@listing_limit
@click.pass_context
def invocations(
    ctx: click.Context,
    statuses: tuple[str, ...],
    task_id: str | None,
    queue: str | None,
    limit: int,
) -> None:
    """List invocations, newest first: id, task, status, queue, age."""
    app = load(ctx)
    wanted = [InvocationStatus[name.upper()] for name in statuses] or None
    try:
        found = app.state_backend.recent(limit, task_id=task_id, statuses=wanted, queue=queue)
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    _note_local_state(app)
    if not found:
        click.echo(f"No invocations match for app {app.app_id!r}.")
        return
    now = time.time()
    rows: list[tuple[str, ...]] = [
        (s.invocation_id, s.task_id, s.status.name, s.queue, age(now - s.registered)) for s in found
    ]
    headers: tuple[str, ...] = ("INVOCATION", "TASK", "STATUS", "QUEUE", "AGE")
    if any(s.status is InvocationStatus.SCHEDULED for s in found):
        headers += ("DUE",)  # shown only when something waits for its due time
        rows = [
            (*row, _due_in(s.due, now) if s.status is InvocationStatus.SCHEDULED else "")
            for row, s in zip(rows, found, strict=True)
        ]
    table(headers, rows)
    if len(found) == limit:
        click.echo(f"(the {limit} newest; --limit shows more)", err=True)


def _due_in(due: float | None, now: float) -> str:
    if due is None:
        return "?"
    return f"in {age(due - now)}" if due >= now else f"{age(now - due)} late"


def _note_local_state(app: Pynenc) -> None:
    if not app.state_backend.capabilities.cross_process:
        click.echo(
            f"Note: state backend {masked_url(app.conf.state_backend_url)} lives in this "
            "process only; runners and invocations of other processes are not visible.",
            err=True,
        )
