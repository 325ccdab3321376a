"""The ``pynenc`` command: start runners, inspect configuration and invocations, purge.

pynenc --app package.module.app runner start [--queues a,b] [--runner ThreadRunner]
pynenc --app package.module:app show-config
pynenc --app package.module:app status INVOCATION_ID
pynenc --app package.module:app purge
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import sys
from typing import Any

import click

from pynenc.app import Pynenc
from pynenc.conf.masking import masked_url
from pynenc.exceptions import InvocationNotFoundError, PynencError
from pynenc.runner import RUNNERS, create_runner
from pynenc.runner.reference import load_app
from pynenc.serializer import deserialize_result


def _load(ctx: click.Context) -> Pynenc:
    reference = ctx.obj["app"]
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the current directory imports
    try:
        return load_app(reference)
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.option(
    "--app",
    "app_ref",
    required=True,
    metavar="MODULE:APP",
    help="The app to use: 'package.module:app' or 'package.module.app'.",
)
@click.pass_context
def cli(ctx: click.Context, app_ref: str) -> None:
    """pynenc: distributed task execution on kombu."""
    ctx.obj = {"app": app_ref}


@cli.group()
def runner() -> None:
    """Run workers."""


@runner.command("start")
@click.option("--queues", default=None, help="Comma-separated queues to consume.")
@click.option(
    "--runner",
    "runner_cls",
    default=None,
    type=click.Choice(sorted(RUNNERS)),
    help="Runner class (default: the app's runner_cls).",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Slots per process.")
@click.option(
    "--processes", type=click.IntRange(min=1), default=None, help="Processes (process runners)."
)
@click.pass_context
def runner_start(
    ctx: click.Context,
    queues: str | None,
    runner_cls: str | None,
    threads: int | None,
    processes: int | None,
) -> None:
    """Start a runner and consume until SIGTERM/SIGINT (twice: stop at once)."""
    app = _load(ctx)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if runner_cls:
        app.conf.runner_cls = runner_cls
    if queues:
        app.conf.runner.queues = tuple(q.strip() for q in queues.split(",") if q.strip())
    if threads:
        app.conf.runner.threads = threads
    if processes:
        app.conf.runner.processes = processes
    try:
        instance = create_runner(app, app.conf.runner_cls)
        click.echo(
            f"pynenc runner {instance.runner_id} ({app.conf.runner_cls}) for app "
            f"{app.app_id!r} on {masked_url(app.conf.broker_url)}, "
            f"queues {', '.join(instance.queues)}",
            err=True,
        )
        instance.run()
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command("show-config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print every option with its value and where the value came from."""
    app = _load(ctx)
    rows = [(item.name, _show(item.shown), item.source) for item in app.conf.describe()]
    for task_id, task in sorted(app.tasks.items()):
        rows.extend(
            (f"tasks.{task_id}.{item.name}", _show(item.shown), item.source)
            for item in task.conf.describe()
        )
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        click.echo(f"{name:<{width}}  {value}  ({source})")


@cli.command("status")
@click.argument("invocation_id")
@click.pass_context
def status(ctx: click.Context, invocation_id: str) -> None:
    """Show an invocation's status, history and result or error."""
    app = _load(ctx)
    try:
        record = app.orchestrator.get_record(invocation_id)
    except InvocationNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"invocation  {record.invocation_id}")
    click.echo(f"task        {record.task_id}")
    click.echo(f"status      {record.status.name}")
    click.echo(f"retries     {record.num_retries}")
    if record.owner:
        click.echo(f"runner      {record.owner}")
    click.echo("history:")
    for entry in app.state_backend.history(invocation_id):
        when = dt.datetime.fromtimestamp(entry.timestamp, dt.UTC).isoformat(timespec="milliseconds")
        extra = "".join(f"  {x}" for x in (entry.runner_id, entry.reason) if x)
        click.echo(f"  {when}  {entry.status.name:<10}{extra}")
    if record.result is not None:
        click.echo(f"result      {_show_result(app, record.result)}")
    if record.error is not None:
        click.echo(f"error       {record.error.get('type')}: {record.error.get('message')}")
        traceback = record.error.get("traceback")
        if traceback:
            click.echo(traceback.rstrip())


def _show(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple) and value and all(isinstance(v, type) for v in value):
        return ", ".join(f"{v.__module__}.{v.__qualname__}" for v in value)
    return repr(value)


def _show_result(app: Pynenc, encoded: str) -> str:
    try:
        value: Any = deserialize_result(app.serializer, encoded)
    except PynencError:
        return f"(cannot decode here) {encoded[:200]}"
    return repr(value)


@cli.command("purge")
@click.pass_context
def purge(ctx: click.Context) -> None:
    """Drop every queued message and stored invocation of the app."""
    app = _load(ctx)
    app.purge()
    click.echo(f"Purged app {app.app_id!r}: queues and stored invocations are empty.")


def main() -> None:
    cli(prog_name="pynenc")
