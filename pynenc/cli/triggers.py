"""``pynenc triggers``: the app's triggers with their next due time and last firing, and
``pynenc triggers emit CODE``: emit an event.

Times are shown in the app's ``timezone`` and in UTC; ``--json`` prints them as seconds
since the epoch and as ISO 8601 text. "now" is the app's trigger clock
(``app.trigger.clock``), the time the runners' trigger passes use.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

import click

from pynenc.app import Pynenc
from pynenc.cli.common import age, load, printed_warnings, warn
from pynenc.cli.inspect import _note_local_state
from pynenc.cli.trigger_view import both
from pynenc.exceptions import PynencError
from pynenc.orchestrator.scheduling import iso
from pynenc.trigger import TriggerStatus
from pynenc.trigger.conditions import EventCondition

#: What each logic means, as the listing says it.
LOGIC = {
    "or": "or: fires on each condition met",
    "and": "and: fires once every condition has been met since the last firing",
}


@click.group("triggers", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@click.pass_context
def triggers(ctx: click.Context, as_json: bool) -> None:
    """List every trigger of the app: its task, conditions, logic, next due time (in the
    app's timezone and UTC), last firing (time and invocation), how often it fired and its
    last error. 'pynenc triggers emit CODE' emits an event."""
    if ctx.invoked_subcommand is not None:
        return
    app = load(ctx)
    try:
        found = app.trigger.status()
        last = _statuses(app, [s.last_invocation for s in found])
        now = app.trigger.clock()
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        shown = [_as_dict(app, s, last.get(s.last_invocation or "")) for s in found]
        document = {"app": app.app_id, "timezone": app.conf.timezone, "now": now}
        click.echo(json.dumps({**document, "triggers": shown}, indent=2, default=str))
        return
    _note_local_state(app)
    if not found:
        click.echo(
            f"No triggers in app {app.app_id!r}. Declare them with @app.task(triggers="
            "TriggerBuilder()...) in the app's module or a module of task_modules."
        )
        return
    zone = app.conf.timezone
    times = f"times in {zone} and UTC" if zone != "UTC" else "times in UTC"
    click.echo(f"{len(found)} trigger(s) of app {app.app_id!r} ({times}; now {both(now, zone)})")
    for status in found:
        click.echo("")
        _show(app, status, last.get(status.last_invocation or ""), now)
    if any(s.next_due is not None and not s.seen for s in found):
        click.echo(
            "\nNote: a time trigger 'not seen' has not been evaluated by a runner yet: no "
            "runner is up, or none imports its task's module (runners import the app's "
            "module and task_modules).",
            err=True,
        )


@triggers.command("emit")
@click.argument("code")
@click.option(
    "--payload",
    default=None,
    metavar="JSON",
    help="The event's payload, a JSON value: '{\"order\": 7}', '[1, 2]', '\"text\"'.",
)
@click.pass_context
def emit(ctx: click.Context, code: str, payload: str | None) -> None:
    """Emit event CODE (app.trigger.emit_event): triggers declared on_event(CODE) fire
    with its payload at a runner's next trigger pass. Prints the event's id."""
    try:
        value = None if payload is None else json.loads(payload)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{payload!r} is not JSON ({exc}). Quote it for the shell, e.g. "
            "--payload '{\"order\": 7}', or --payload '\"text\"' for a string.",
            param_hint="'--payload'",
        ) from exc
    app = load(ctx)
    listening = sorted(
        d.trigger_id
        for d in app.trigger.definitions()
        if any(isinstance(c, EventCondition) and c.code == code for c in d.conditions)
    )
    if not listening:
        codes = sorted(
            {
                c.code
                for d in app.trigger.definitions()
                for c in d.conditions
                if isinstance(c, EventCondition)
            }
        )
        known = f" (codes listened for: {', '.join(codes)})" if codes else ""
        with printed_warnings():
            warn(
                f"no trigger of app {app.app_id!r} listens for event {code!r}{known}; it is "
                "stored anyway, for triggers declared later within the event retention"
            )
    try:
        event_id = app.trigger.emit_event(code, value)
    except (ValueError, PynencError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(event_id)


# -- what the listing shows -----------------------------------------------------------------


def _statuses(app: Pynenc, ids: list[str | None]) -> dict[str, str]:
    """The status of each last invocation (one read; ``GONE`` for a purged record)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    records = app.state_backend.get_many(wanted)
    return {
        inv: "GONE" if record is None else record.status.name
        for inv, record in zip(wanted, records, strict=True)
    }


def _show(app: Pynenc, status: TriggerStatus, last_status: str | None, now: float) -> None:
    definition, zone = status.definition, app.conf.timezone
    click.echo(definition.trigger_id)
    if definition.name is not None:
        click.echo(f"  name        {definition.name}")
    click.echo(f"  task        {definition.task_key}")
    click.echo(f"  when        {definition.describe()}")
    click.echo(f"  logic       {LOGIC.get(definition.logic, definition.logic)}")
    if definition.provider is not None:
        click.echo(f"  arguments   built by {definition.provider}")
    elif definition.arguments:
        click.echo(f"  arguments   {json.dumps(definition.arguments, default=str)}")
    if definition.options:
        click.echo(f"  options     {json.dumps(definition.options, default=str)}")
    if status.next_due is not None:
        due = status.next_due
        click.echo(f"  next due    {both(due, zone)} ({_due_in(due, now)})")
        if not status.seen:
            click.echo("  not seen    by a runner yet (the due time is counted from now)")
    else:
        click.echo("  next due    - (not time-based: fires on events or task outcomes)")
    if status.last_fired is not None:
        when = both(status.last_fired, zone)
        click.echo(f"  last fired  {when} ({age(now - status.last_fired)} ago)")
        state = f" ({last_status})" if last_status else ""
        click.echo(f"  invocation  {status.last_invocation}{state}")
    else:
        click.echo("  last fired  never")
    click.echo(f"  fired       {status.fired}")
    if status.last_error:
        click.echo(f"  last error  {status.last_error}")


def _as_dict(app: Pynenc, status: TriggerStatus, last_status: str | None) -> dict[str, Any]:
    definition, zone = status.definition, app.conf.timezone
    return {
        "trigger_id": definition.trigger_id,
        "name": definition.name,
        "task": definition.task_key,
        "description": definition.describe(),
        "conditions": [
            {"kind": c.kind, "description": c.describe(), **asdict(c)}
            for c in definition.conditions
        ],
        "logic": definition.logic,
        "arguments": definition.arguments,
        "provider": definition.provider,
        "options": dict(definition.options),
        "next_due": status.next_due,
        "next_due_utc": _utc(status.next_due),
        "next_due_local": _local(status.next_due, zone),
        "last_fired": status.last_fired,
        "last_fired_utc": _utc(status.last_fired),
        "last_fired_local": _local(status.last_fired, zone),
        "last_invocation": status.last_invocation,
        "last_invocation_status": last_status,
        "fired": status.fired,
        "last_error": status.last_error,
        "seen": status.seen,
    }


# -- times ----------------------------------------------------------------------------------


def _utc(timestamp: float | None) -> str | None:
    return None if timestamp is None else iso(timestamp)


def _local(timestamp: float | None, zone: str) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, ZoneInfo(zone)).isoformat(timespec="milliseconds")


def _due_in(due: float, now: float) -> str:
    return f"in {age(due - now)}" if due >= now else f"{age(now - due)} late"
