"""``pynenc-celery``: Celery's ``celery`` command for apps whose tasks run on pynenc.

pynenc-celery -A proj worker -c 4 -Q default,emails -l info
pynenc-celery -A proj status | inspect active | inspect scheduled | inspect registered
pynenc-celery -A proj purge [-f] | result TASK_ID
pynenc-celery -A proj beat (no beat process: lists the entries the runners run)

``-A`` finds the app by Celery's rules (``proj``, ``proj.celery``, ``proj:app``,
``proj.celery:app``). ``worker`` takes Celery's flags; those that mean nothing on pynenc are
accepted with a warning saying why. The inspection commands run the ``pynenc`` command's
equivalents; Celery commands with none exit with status 2 and say what to use instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from pynenc.conf.masking import masked_url
from pynenc.exceptions import PynencError
from pynenc_celery_compat import apps, registry
from pynenc_celery_compat.cli_audit import audit_command
from pynenc_celery_compat.cli_migrate import migrate_command
from pynenc_celery_compat.worker.controller import Worker, configure_logging
from pynenc_celery_compat.worker.pools import RUNNER_OF_POOL, soft_limit_warning

#: exit status of a usage error (click's), also for Celery commands with no equivalent
EXIT_USAGE = 2

#: Celery commands with no pynenc equivalent, and what to use instead
UNSUPPORTED = {
    "events": "pynenc has no event stream; list invocations with "
    "`pynenc-celery -A APP inspect active` or `pynenc --app REF invocations`",
    "flower": "Flower reads Celery's events, which pynenc does not send; use "
    "`pynenc --app REF invocations` and `pynenc --app REF status ID`",
    "control": "revoke a task with AsyncResult(id).revoke() or `pynenc --app REF cancel ID`; "
    "other remote-control commands have no equivalent",
    "multi": "run one `pynenc-celery worker` per unit of your process manager (systemd, "
    "supervisord, a container)",
    "call": "call the task from Python (`task.delay(...)`) or `pynenc`'s API",
    "list": "pynenc declares queues as tasks use them: nothing to list",
    "amqp": "use your broker's own tools",
    "shell": "use `python -i` and import your app",
    "graph": "no bootsteps to draw",
    "upgrade": "nothing to upgrade: settings are read under every Celery name",
    "logtool": "pynenc's log lines are per invocation; use grep or `pynenc --app REF status ID`",
    "report": "use `pynenc --app REF show-config`",
}


@dataclass
class _State:
    app_ref: str | None
    quiet: bool


class _CeleryGroup(click.Group):
    """Tells a Celery command this package does not offer from an unknown one."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in UNSUPPORTED:
            return _unsupported_command(cmd_name)
        return found


def _unsupported_command(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        _unsupported(f"`{name}`", UNSUPPORTED[name])

    return command


def _unsupported(what: str, instead: str) -> None:
    click.echo(f"pynenc-celery: {what} is not supported: {instead}.", err=True)
    sys.exit(EXIT_USAGE)


@click.group(cls=_CeleryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-A", "--app", "app_ref", metavar="APPLICATION", help="The Celery app.")
@click.option("-b", "--broker", default=None, help="broker_url for this run.")
@click.option("--result-backend", default=None, help="result_backend for this run.")
@click.option("--loader", default=None, help="Celery loader class.")
@click.option("--config", default=None, help="Configuration module.")
@click.option(
    "--workdir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Change to this directory first.",
)
@click.option("-C", "--no-color", is_flag=True, help="Accepted (no colours are used).")
@click.option("-q", "--quiet", is_flag=True, help="No start-up banner.")
@click.option("--skip-checks", is_flag=True, help="Skip Django's checks on start.")
@click.pass_context
def cli(
    ctx: click.Context,
    app_ref: str | None,
    broker: str | None,
    result_backend: str | None,
    loader: str | None,
    config: str | None,
    workdir: str | None,
    no_color: bool,
    quiet: bool,
    skip_checks: bool,
) -> None:
    """Celery's command line for tasks that run on pynenc."""
    if workdir:
        os.chdir(workdir)
    # the same environment variables Celery's command sets: worker processes inherit them
    for name, value in (
        ("CELERY_LOADER", loader),
        ("CELERY_BROKER_URL", broker),
        ("CELERY_RESULT_BACKEND", result_backend),
        ("CELERY_CONFIG_MODULE", config),
        ("CELERY_SKIP_CHECKS", "true" if skip_checks else None),
    ):
        if value:
            os.environ[name] = value
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `celery`: the project imports from here
    ctx.obj = _State(app_ref, quiet)


def _app_ref(ctx: click.Context) -> str:
    state: _State = ctx.obj
    if not state.app_ref:
        raise click.UsageError(
            "Missing option '-A' / '--app': name the Celery app before the command, e.g. "
            f"pynenc-celery -A proj {ctx.info_name or 'worker'}",
            ctx,
        )
    return state.app_ref


def _load(ctx: click.Context) -> Any:
    """The Celery app ``-A`` names (Celery's ``find_app``), or a usage error saying why."""
    from celery.app.utils import find_app

    reference = _app_ref(ctx)
    try:
        return find_app(reference)
    except ModuleNotFoundError as exc:
        raise click.UsageError(
            f"Unable to load the app {reference!r}: module {exc.name!r} was not found "
            f"(cwd {os.getcwd()!r}). Run from the directory holding your project, or use "
            "--workdir.",
            ctx,
        ) from exc
    except AttributeError as exc:
        raise click.UsageError(
            f"Unable to load the app {reference!r}: {exc}. Name the attribute holding the "
            "app: -A proj.celery:app",
            ctx,
        ) from exc
    except Exception as exc:
        raise click.UsageError(
            f"Unable to load the app {reference!r}: importing it raised "
            f"{type(exc).__name__}: {exc}",
            ctx,
        ) from exc


# -- worker ---------------------------------------------------------------------------------

#: worker flags accepted for compatibility: (parameter, flag, why it does not apply)
_IGNORED = (
    (
        "optimization",
        "-O",
        "a pynenc runner receives work only for its free slots, which is what -O fair asks for",
    ),
    ("prefetch_multiplier", "--prefetch-multiplier", "a runner prefetches at most its free slots"),
    ("disable_prefetch", "--disable-prefetch", "a runner prefetches at most its free slots"),
    (
        "max_tasks_per_child",
        "--max-tasks-per-child",
        "pool processes are not recycled by "
        "task count (pynenc's ProcessRunner runs each task in a fresh process: `pynenc runner "
        "start --runner ProcessRunner`)",
    ),
    (
        "max_memory_per_child",
        "--max-memory-per-child",
        "pool processes are not recycled by memory use",
    ),
    (
        "autoscale",
        "--autoscale",
        "the pool has -c slots (pynenc's MultiThreadRunner grows and shrinks by processes)",
    ),
    (
        "task_events",
        "-E",
        "pynenc sends no Celery events; its state backend records every "
        "status (`pynenc-celery inspect active`)",
    ),
    ("without_gossip", "--without-gossip", "pynenc runners do not gossip"),
    ("without_mingle", "--without-mingle", "pynenc runners do not mingle"),
    (
        "without_heartbeat",
        "--without-heartbeat",
        "pynenc runners heartbeat in the state backend (how their crashes are detected)",
    ),
    ("heartbeat_interval", "--heartbeat-interval", "set pynenc's runner.heartbeat_interval"),
    ("statedb", "--statedb", "revokes are kept in the state backend already, for every worker"),
    ("schedule_filename", "--schedule", "there is no beat process, nor its schedule file"),
    ("scheduler", "--scheduler", "the runners run beat_schedule; no scheduler class is read"),
    ("purge", "--purge", "nothing is purged on start (`pynenc-celery -A APP purge`)"),
    ("detach", "--detach", "the worker runs in the foreground: run it under a process manager"),
    ("uid", "--uid", "run the worker as that user from your process manager"),
    ("gid", "--gid", "run the worker as that group from your process manager"),
    ("umask", "--umask", "set the umask from your process manager"),
    ("executable", "--executable", "worker processes use this Python"),
    ("pool_restarts", "--pool-restarts", "no remote pool restarts"),
)


def _split(values: tuple[str, ...]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


@cli.command("worker")
@click.option("-n", "--hostname", default=None, help="Node name (default celery@%h).")
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Task slots (default: the CPU count).",
)
@click.option(
    "-P",
    "--pool",
    default="prefork",
    show_default=True,
    help="prefork (processes), threads or solo.",
)
@click.option("-Q", "--queues", multiple=True, help="Queues to consume (comma-separated).")
@click.option("-X", "--exclude-queues", multiple=True, help="Queues not to consume.")
@click.option("-I", "--include", multiple=True, help="More modules to import.")
@click.option("-l", "--loglevel", default="WARNING", show_default=True, help="Log level.")
@click.option("-f", "--logfile", default=None, help="Log to this file (default stderr).")
@click.option("--pidfile", default=None, help="Write the worker's pid here.")
@click.option(
    "--time-limit", type=float, default=None, help="Hard time limit (s) of tasks without their own."
)
@click.option(
    "--soft-time-limit",
    type=float,
    default=None,
    help="Soft time limit (s) of tasks without their own.",
)
@click.option(
    "-O", "--optimization", "optimization", default=None, help="Accepted (see the warning)."
)
@click.option("--prefetch-multiplier", type=int, default=None, help="Accepted.")
@click.option("--disable-prefetch", is_flag=True, default=None, help="Accepted.")
@click.option("--max-tasks-per-child", type=int, default=None, help="Accepted.")
@click.option(
    "--pool-start-method",
    type=click.Choice(["fork", "spawn"]),
    default=None,
    help="Accepted (prefork processes are always spawned).",
)
@click.option("--max-memory-per-child", type=int, default=None, help="Accepted.")
@click.option("--autoscale", default=None, help="Accepted.")
@click.option(
    "-E", "--task-events", "--events", "task_events", is_flag=True, default=None, help="Accepted."
)
@click.option("--without-gossip", is_flag=True, default=None, help="Accepted.")
@click.option("--without-mingle", is_flag=True, default=None, help="Accepted.")
@click.option("--without-heartbeat", is_flag=True, default=None, help="Accepted.")
@click.option("--heartbeat-interval", type=int, default=None, help="Accepted.")
@click.option("-S", "--statedb", default=None, help="Accepted.")
@click.option(
    "-B", "--beat", is_flag=True, default=None, help="Accepted (the runners run beat_schedule)."
)
@click.option("-s", "--schedule-filename", "--schedule", default=None, help="Accepted.")
@click.option("--scheduler", default=None, help="Accepted.")
@click.option("--purge", "--discard", "purge", is_flag=True, default=None, help="Accepted.")
@click.option("-D", "--detach", is_flag=True, default=None, help="Accepted.")
@click.option("--uid", default=None, help="Accepted.")
@click.option("--gid", default=None, help="Accepted.")
@click.option("--umask", default=None, help="Accepted.")
@click.option("--executable", default=None, help="Accepted.")
@click.option("--pool-restarts", is_flag=True, default=None, help="Accepted.")
@click.pass_context
def worker(ctx: click.Context, /, **options: Any) -> None:
    """Run a worker: the app's compat tasks on a pynenc runner, until SIGTERM/SIGINT."""
    for name, flag, why in _IGNORED:
        if options.get(name):
            click.echo(f"Warning: {flag} does not apply on pynenc: {why}.", err=True)
    if options.get("pool_start_method") == "fork":
        click.echo(
            "Warning: --pool-start-method fork does not apply on pynenc: prefork worker "
            "processes are always spawned (each a fresh interpreter that imports the app).",
            err=True,
        )
    if options.get("beat"):
        click.echo(f"Info: -B is not needed: {RUNNERS_RUN_BEAT}.", err=True)
    app = _load(ctx)
    try:
        instance = Worker(
            app,
            pool=options["pool"],
            concurrency=options["concurrency"],
            queues=_split(options["queues"]),
            exclude_queues=_split(options["exclude_queues"]),
            hostname=options["hostname"],
            loglevel=options["loglevel"],
            time_limit=options["time_limit"],
            soft_time_limit=options["soft_time_limit"],
            include=_split(options["include"]),
            app_ref=_app_ref(ctx),
        )
        configure_logging(instance.loglevel, options["logfile"])
        runner = instance.create_runner()
    except PynencError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    if not ctx.obj.quiet:
        conf = runner.app.conf
        click.echo(
            f"pynenc-celery worker {instance.hostname}: app {app.main!r}, pool "
            f"{instance.pool} ({RUNNER_OF_POOL[instance.pool]}, {instance.concurrency} "
            f"slots), broker {masked_url(conf.broker_url)}, results "
            f"{masked_url(conf.state_backend_url)}, queues {', '.join(instance.queues)}; "
            f"tasks: {', '.join(_compat_task_names(app))}",
            err=True,
        )
    soft = soft_limit_warning(app, instance.pool, options["soft_time_limit"])
    if soft is not None:
        click.echo(f"Warning: {soft}.", err=True)
    with _pidfile(options["pidfile"]):
        try:
            instance.run()
        except PynencError as exc:
            raise click.ClickException(str(exc)) from exc


#: what replaces celery beat (the ``beat`` command and ``worker -B`` say it)
RUNNERS_RUN_BEAT = (
    "pynenc runners run the beat_schedule entries themselves (one runner at a time "
    "evaluates them, so each run happens once however many workers run); no beat process "
    "is needed"
)


@cli.command("beat", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """No beat process: say so, and list the entries the runners run."""
    from pynenc_celery_compat.beat_install import describe, read_entries
    from pynenc_celery_compat.bridge import pynenc_app_for

    app = _load(ctx)
    if ctx.args:
        click.echo(f"Note: {' '.join(ctx.args)}: beat's options do not apply.", err=True)
    click.echo(f"pynenc-celery beat: {RUNNERS_RUN_BEAT}. Start workers instead:")
    click.echo(f"  pynenc-celery -A {_app_ref(ctx)} worker")
    try:
        app.loader.import_default_modules()
        pynenc = pynenc_app_for(app)
        entries = read_entries(app, pynenc)
    except PynencError as exc:
        raise click.ClickException(str(exc)) from exc
    zone = pynenc.conf.timezone
    if not entries:
        click.echo("beat_schedule has no entries.")
        return
    click.echo(f"beat_schedule: {len(entries)} entries (times in {zone}):")
    for line in describe(entries, zone):
        click.echo(f"  {line}")


@contextlib.contextmanager
def _pidfile(path: str | None) -> Iterator[None]:
    """Write this process's pid to ``path`` while the worker runs (refused when a live
    process holds it already)."""
    if path is None:
        yield
        return
    with contextlib.suppress(FileNotFoundError, ValueError):
        with open(path) as held:
            pid = int(held.read().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 0)
            raise click.ClickException(f"pidfile {path} holds the pid of a live process ({pid})")
    with open(path, "w") as pidfile:
        pidfile.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


# -- inspection: pynenc's command does the work ----------------------------------------------


def _pynenc(ctx: click.Context, *args: str) -> None:
    """Run ``pynenc --app <this app> ARGS`` and exit with its status."""
    from pynenc.cli.main import cli as pynenc_cli

    reference = apps.reference({"app": _app_ref(ctx)})
    pynenc_cli.main(["--app", reference, *args], prog_name="pynenc-celery")


@cli.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """The live workers (pynenc's runners)."""
    _pynenc(ctx, "runners")


@cli.command("result")
@click.argument("task_id")
@click.pass_context
def result(ctx: click.Context, task_id: str) -> None:
    """A task's state, history and result."""
    _pynenc(ctx, "status", task_id)


@cli.command("purge")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("-Q", "--queues", multiple=True, help="Accepted: every queue is purged.")
@click.option("-X", "--exclude-queues", multiple=True, help="Accepted: see -Q.")
@click.pass_context
def purge(
    ctx: click.Context, force: bool, queues: tuple[str, ...], exclude_queues: tuple[str, ...]
) -> None:
    """Drop every waiting task. Unlike Celery's, pynenc's purge drops the stored
    results too."""
    if queues or exclude_queues:
        click.echo("Warning: -Q/-X do not apply: every queue of the app is purged.", err=True)
    click.echo(
        "Note: pynenc's purge drops the app's stored task states and results too (Celery's "
        "keeps results).",
        err=True,
    )
    _pynenc(ctx, "purge", *(["--yes"] if force else []))


_INSPECT = {
    "active": ("invocations", "--status", "RUNNING"),
    "scheduled": ("invocations", "--status", "SCHEDULED"),
    "ping": ("runners",),
    "stats": ("runners",),
}


@cli.command("inspect")
@click.argument("action")
@click.argument("args", nargs=-1)
@click.option("-t", "--timeout", type=float, default=None, help="Accepted.")
@click.option("-d", "--destination", default=None, help="Accepted.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Accepted.")
@click.pass_context
def inspect(
    ctx: click.Context,
    action: str,
    args: tuple[str, ...],
    timeout: float | None,
    destination: str | None,
    as_json: bool,
) -> None:
    """active, scheduled, registered, ping, stats: read from pynenc's state backend."""
    if action == "registered":
        app = _load(ctx)
        app.loader.import_default_modules()
        for name in _compat_task_names(app):
            click.echo(f"  * {name}")
        return
    mapped = _INSPECT.get(action)
    if mapped is None:
        _unsupported(
            f"`inspect {action}`",
            f"pynenc-celery inspects {', '.join([*_INSPECT, 'registered'])}; see also "
            "`pynenc --app REF invocations --help`",
        )
        return
    _pynenc(ctx, *mapped)


def _compat_task_names(app: Any) -> list[str]:
    """The tasks a pynenc worker of ``app`` runs: its compat tasks (Celery's own tasks, of
    modules not migrated yet, stay with Celery's workers)."""
    return sorted(
        name
        for name, task in list(app.tasks.items())
        if registry.made_here(task) and not name.startswith("celery.")
    )


# the migration tools (their modules import libcst only when run)
cli.add_command(audit_command)
cli.add_command(migrate_command)


def main() -> None:
    cli(prog_name="pynenc-celery")


__all__ = ["cli", "main"]
