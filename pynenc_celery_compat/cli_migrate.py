"""``pynenc-celery migrate PATH…``: rewrite Celery imports to ``pynenc_celery_compat`` (see
:mod:`pynenc_celery_compat.migration.rewrite`)."""

from __future__ import annotations

import click


@click.command("migrate", context_settings={"ignore_unknown_options": True})
@click.argument("paths", nargs=-1, required=True)
def migrate_command(paths: tuple[str, ...]) -> None:
    """Rewrite the Celery imports of the modules under PATHS to pynenc_celery_compat."""
    raise click.ClickException("not built yet")
