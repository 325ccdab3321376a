"""What every ``pynenc`` command shares: loading the app, printing warnings and values."""

from __future__ import annotations

import difflib
import enum
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from pynenc.app import Pynenc
from pynenc.conf.task_config import task_env_key
from pynenc.exceptions import PynencError, PynencWarning
from pynenc.records import InvocationStatus
from pynenc.runner.execution import import_task_modules
from pynenc.runner.reference import load_app


def load(ctx: click.Context) -> Pynenc:
    """The app named by ``--app``; a usage error when it was not given."""
    reference = ctx.obj.get("app") if ctx.obj else None
    if not reference:
        raise click.UsageError(
            "Missing option '--app': name the app, e.g. pynenc --app package.module:app "
            f"{ctx.info_name or 'COMMAND'}",
            ctx,
        )
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the current directory imports
    with printed_warnings():
        try:
            app = load_app(reference)
            import_task_modules(app)  # their tasks shown, their settings checked
        except PynencError as exc:
            raise click.ClickException(str(exc)) from exc
        for key, sources in app.conf.unknown_task_entries(app.tasks):
            warn(
                f"per-task settings for {key!r} ({sources}) name no task of app "
                f"{app.app_id!r}, so they apply to nothing.{_closest_task(app, key)}"
            )
    return app


def _closest_task(app: Pynenc, key: str) -> str:
    """`` Did you mean …?`` for a per-task key (a task id, or its environment form)."""
    forms = {task_id: task_id for task_id in app.tasks}
    forms.update((task_env_key(task_id), task_id) for task_id in app.tasks)
    close = difflib.get_close_matches(key, forms, n=1)
    if close:
        return f" Did you mean {close[0]!r} (task {forms[close[0]]})?"
    return f" Its tasks: {', '.join(sorted(app.tasks))}." if len(app.tasks) <= 10 else ""


def warn(message: str) -> None:
    """Issue a :class:`~pynenc.exceptions.PynencWarning` (the command prints it to stderr)."""
    warnings.warn(message, PynencWarning, stacklevel=2)


@contextmanager
def printed_warnings() -> Iterator[None]:
    """Print the pynenc warnings issued inside as ``Warning: …`` lines on stderr, every one
    (Python would show a warning once per code location, with a source line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PynencWarning)
        try:
            yield
        finally:
            for item in caught:
                if issubclass(item.category, PynencWarning):
                    click.echo(f"Warning: {item.message}", err=True)
                else:  # someone else's warning: show it as Python would have
                    warnings.showwarning(
                        item.message, item.category, item.filename, item.lineno, item.file
                    )


def show_value(value: Any) -> str:
    """An option value as ``show-config`` prints it."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple) and value and all(isinstance(v, type) for v in value):
        return ", ".join(f"{v.__module__}.{v.__qualname__}" for v in value)
    return repr(value)


def age(seconds: float) -> str:
    """A duration for tables: ``0.4s``, ``12s``, ``5m03s``, ``2h10m``, ``3d04h``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    for unit, size, sub_unit, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}{(whole % size) // sub_size:02d}{sub_unit}"
    if whole >= 60:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole}s"


def table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Print ``rows`` in left-aligned columns under ``headers``."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


#: ``--status`` (repeatable) of the listing commands: the statuses to keep, by name
status_filter = click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.name for s in InvocationStatus], case_sensitive=False),
    help="Only this status (repeat for several).",
)
#: ``--limit`` of the listing commands
listing_limit = click.option(
    "--limit",
    type=click.IntRange(min=1, max=10_000),
    default=50,
    show_default=True,
    help="At most this many, newest first.",
)
