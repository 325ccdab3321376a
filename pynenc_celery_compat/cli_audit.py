"""``pynenc-celery audit PATH…``: every Celery use in a codebase, rated against the compat
layer (see :mod:`pynenc_celery_compat.migration.audit`).

Exit status: 0 when every use is supported (with or without a difference), 1 when something
is not supported or a file could not be read (so it gates CI), 2 on a usage error (a path
that does not exist, no Python file to read). The audit modules are imported only when the
command runs.
"""

from __future__ import annotations

import json
import shutil
import sys

import click

_SHOW = {
    "all": "supported",
    "differences": "supported with a difference",
    "unsupported": "not supported",
}


@click.command("audit")
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="GLOB",
    help="Leave out files matching GLOB (path, path under the argument, or file name); repeatable.",
)
@click.option(
    "--no-tests",
    is_flag=True,
    help="Leave test files out (test_*.py, *_test.py, conftest.py, tests/…). "
    "They are read by default: their Celery test tooling is part of the audit.",
)
@click.option(
    "--show",
    type=click.Choice(list(_SHOW)),
    default="all",
    show_default=True,
    help="Which uses the tables list: all, differences and worse, or unsupported only "
    "(the summary and --json always count everything).",
)
def audit_command(
    paths: tuple[str, ...], as_json: bool, excludes: tuple[str, ...], no_tests: bool, show: str
) -> None:
    """Report every Celery API use under PATHS and whether the compat layer covers it.

    Each use is supported, supported with a difference, or not supported, with the reason
    and the migration guide's section; then each module that uses Celery can switch now or
    is blocked by its unsupported uses. Exit status 1 when anything is not supported or a
    file does not parse (use it to gate CI), 0 otherwise.
    """
    from pynenc_celery_compat.migration import report
    from pynenc_celery_compat.migration.audit import Support, audit_paths

    try:
        found = audit_paths(paths, exclude=excludes, include_tests=not no_tests)
    except FileNotFoundError as error:
        raise click.BadParameter(
            f"{error}: give existing files or folders", param_hint="PATHS"
        ) from None
    if not found.files:  # a gate that read nothing must not pass
        shown = ", ".join(repr(path) for path in paths)
        left_out = " (after --exclude/--no-tests)" if excludes or no_tests else ""
        raise click.BadParameter(
            f"no Python files under {shown}{left_out}: give the folders of the code to audit",
            param_hint="PATHS",
        )
    if as_json:
        click.echo(json.dumps(report.as_json(found), indent=2))
    else:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        click.echo(report.text(found, least=Support(_SHOW[show]), width=width))
    if found.blocked:
        raise SystemExit(1)
