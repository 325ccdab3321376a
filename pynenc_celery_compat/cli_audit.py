"""``pynenc-celery audit PATH…``: every Celery use in a codebase, rated against the compat
layer (see :mod:`pynenc_celery_compat.migration.audit`)."""

from __future__ import annotations

import click


@click.command("audit")
@click.argument("paths", nargs=-1, required=True)
def audit_command(paths: tuple[str, ...]) -> None:
    """Report every Celery API use under PATHS and whether the compat layer covers it."""
    raise click.ClickException("not built yet")
