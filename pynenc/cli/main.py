"""The ``pynenc`` command: start runners, inspect configuration and invocations, purge.

pynenc --app package.module.app runner start [--queues a,b] [--runner ThreadRunner] [-l info]
pynenc --app package.module:app show-config
pynenc --app package.module:app status INVOCATION_ID
pynenc --app package.module:app runners
pynenc --app package.module:app invocations [--status FAILED] [--task t] [--queue q]
pynenc --app package.module:app purge [--yes]
pynenc --app package.module:app cancel INVOCATION_ID [--reason TEXT]
pynenc --app package.module:app triggers [--json]
pynenc --app package.module:app triggers emit CODE [--payload JSON]
pynenc --app package.module:app workflow list|show|resume|cancel
"""

from __future__ import annotations

import logging
import sys

import click

from pynenc.app import Pynenc
from pynenc.cli.cancel import cancel
from pynenc.cli.common import load, printed_warnings, show_value, warn
from pynenc.cli.inspect import invocations, runners, status
from pynenc.cli.triggers import triggers
from pynenc.cli.workflows import workflow
from pynenc.conf.app_config import LOGGING_LEVELS
from pynenc.conf.masking import masked_url, scheme_of
from pynenc.conf.option import DEFAULT
from pynenc.exceptions import PynencError
from pynenc.logs import FORMAT
from pynenc.runner import RUNNERS, BaseRunner, create_runner
from pynenc.runner.base import DEFAULT_QUEUE


@click.group()
@click.option(
    "--app",
    "app_ref",
    default=None,
    metavar="MODULE:APP",
    help="The app to use: 'package.module:app' or 'package.module.app' (required by "
    "every command).",
)
@click.pass_context
def cli(ctx: click.Context, app_ref: str | None) -> None:
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
@click.option(
    "--loglevel",
    "-l",
    type=click.Choice(LOGGING_LEVELS, case_sensitive=False),
    default=None,
    help="Level of pynenc's log lines (default: logging_level if set, else info).",
)
@click.pass_context
def runner_start(
    ctx: click.Context,
    queues: str | None,
    runner_cls: str | None,
    threads: int | None,
    processes: int | None,
    loglevel: str | None,
) -> None:
    """Start a runner and consume until SIGTERM/SIGINT (twice: stop at once)."""
    app = load(ctx)
    if not logging.getLogger().handlers:
        logging.basicConfig(format=FORMAT)
    if loglevel:
        app.conf.logging_level = loglevel
    elif app.conf.source_of("logging_level") == DEFAULT:
        app.conf.logging_level = "info"  # a worker shows a line per invocation by default
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
        instance.preflight()  # an unreachable state backend fails here, not after the banner
        with printed_warnings():
            _check_runner(app, instance, processes)
        click.echo(
            f"pynenc runner {instance.runner_id} ({app.conf.runner_cls}) for app "
            f"{app.app_id!r} on {masked_url(app.conf.broker_url)}, "
            f"queues {', '.join(instance.queues)}",
            err=True,
        )
        instance.run()
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc


def _check_runner(app: Pynenc, instance: BaseRunner, processes: int | None) -> None:
    """Warn about a runner that will start but probably not do what was meant."""
    local = [
        f"{name}={url}"
        for name, url in (
            ("broker_url", app.conf.broker_url),
            ("state_backend_url", app.conf.state_backend_url),
        )
        if scheme_of(url) == "memory"
    ]
    if local:
        warn(
            f"this runner uses {' and '.join(local)}: memory:// lives inside this process, "
            "so no other process can send it work or read its results. Use "
            "sqlite:////absolute/path.db or redis://host for both (PYNENC__BROKER_URL, "
            "PYNENC__STATE_BACKEND_URL)."
        )
    if processes and app.conf.runner_cls == "ThreadRunner":
        warn(
            "--processes is ignored by ThreadRunner (one process, --threads slots); use "
            "--threads, or a process runner: --runner MultiThreadRunner, ProcessRunner or "
            "PersistentProcessRunner."
        )
    used = {task.conf.queue for task in app.tasks.values()} | {DEFAULT_QUEUE}
    for queue in instance.queues:
        if queue not in used:
            warn(
                f"queue {queue!r} is consumed but no task of app {app.app_id!r} is sent to it "
                f"(task queues: {', '.join(sorted(used))}); check --queues / runner.queues."
            )


@cli.command("show-config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print every option with its value and where the value came from."""
    app = load(ctx)
    try:
        described = app.conf.describe(app.task_class_options())
    except PynencError as exc:  # task_cls cannot be imported, a task option is unknown
        raise click.ClickException(str(exc)) from exc
    rows = [(item.name, show_value(item.shown), item.source) for item in described]
    for task_id, task in sorted(app.tasks.items()):
        rows.extend(
            (f"tasks.{task_id}.{item.name}", show_value(item.shown), item.source)
            for item in task.conf.describe()
        )
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        click.echo(f"{name:<{width}}  {value}  ({source})")


@cli.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def purge(ctx: click.Context, yes: bool) -> None:
    """Drop every queued message and stored invocation of the app (asks first)."""
    app = load(ctx)
    where = (
        f"app {app.app_id!r}: queues on {masked_url(app.conf.broker_url)}, invocations in "
        f"{masked_url(app.conf.state_backend_url)}"
    )
    if not yes:
        if not _interactive():
            raise click.ClickException(
                f"purge drops every queued message and stored invocation of {where}; "
                "not on a terminal, so pass --yes to confirm."
            )
        click.confirm(f"Drop every queued message and stored invocation of {where}?", abort=True)
    try:
        dropped = app.purge()
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Purged app {app.app_id!r}: dropped {dropped.messages} queued messages and "
        f"{dropped.invocations} stored invocations. Invocations already running keep running "
        "to the end, but their outcomes are not recorded (runners log them as unknown); "
        "messages a runner had already received are skipped."
    )


def _interactive() -> bool:
    """Whether a person can answer a prompt (stdin is a terminal)."""
    return sys.stdin.isatty()


cli.add_command(status)
cli.add_command(runners)
cli.add_command(invocations)
cli.add_command(cancel)
cli.add_command(triggers)
cli.add_command(workflow)


def main() -> None:
    cli(prog_name="pynenc")
