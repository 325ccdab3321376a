"""``pynenc-celery migrate PATH…``: rewrite Celery imports to ``pynenc_celery_compat`` (see
:mod:`pynenc_celery_compat.migration.rewrite`).

A dry run by default (a summary per file that would change); ``--diff``, ``--side-by-side``
and ``--html FILE`` show the changes, ``--write`` applies them. Exit status: 0 done (also
when nothing needed a change), 1 some file could not be migrated (it is named, with the
line and the parser's reason; the others are still handled), 2 wrong usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.rewrite import Rewrite

_BROKER_MIGRATE = (
    "{url!r} is a broker URL. Celery's 'celery migrate SOURCE_URL DEST_URL' moves queued "
    "messages from one broker to another; pynenc has nothing to move: it keeps every "
    "invocation (waiting, scheduled, running, done) in its state backend, not in broker "
    "queues, so a new broker only needs the runners and callers pointed at it. "
    "'pynenc-celery migrate PATH…' rewrites the Celery imports of Python files to "
    "pynenc_celery_compat."
)


@click.command("migrate", context_settings={"ignore_unknown_options": True})
@click.argument("paths", nargs=-1, required=True)
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of each change.")
@click.option(
    "--side-by-side", "side_by_side", is_flag=True, help="Print original and migrated in columns."
)
@click.option("--write", is_flag=True, help="Rewrite the files in place.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write a side-by-side HTML report of every changed module to this file.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out files matching GLOB (the path, the path under PATH, or the file name); "
    "repeatable.",
)
@click.option(
    "--include-tests",
    is_flag=True,
    help="Migrate test files too (test_*.py, *_test.py, conftest.py, tests/…); a file named "
    "on the command line is always migrated.",
)
@click.option(
    "--include-app",
    is_flag=True,
    help="Move 'Celery' (the app class) and 'Task' (the task base class) too: every task of "
    "such an app, or built on such a base, then runs on pynenc. The last step.",
)
def migrate_command(
    paths: tuple[str, ...],
    show_diff: bool,
    side_by_side: bool,
    write: bool,
    html_file: str | None,
    exclude: tuple[str, ...],
    include_tests: bool,
    include_app: bool,
) -> None:
    """Rewrite the Celery imports of the Python modules under PATHS to pynenc_celery_compat.

    The names the compat layer offers move (from celery import shared_task -> from
    pynenc_celery_compat import shared_task; celery.shared_task ->
    pynenc_celery_compat.shared_task), the others stay on Celery, and so do the app
    class 'Celery' and the task base class 'Task' unless --include-app. Formatting and
    comments are kept. Without --write nothing is written.
    """
    _check_usage(paths, show_diff, side_by_side, write)
    if html_file is not None:
        _check_html_target(html_file)
    from pynenc_celery_compat.migration.files import discover

    try:
        files = discover(paths, exclude=exclude, include_tests=include_tests)
        every = discover(paths, exclude=exclude, include_tests=True)
    except FileNotFoundError as error:
        raise click.UsageError(str(error)) from None
    # libcst is loaded here only, so that the other commands do not pay for it
    from pynenc_celery_compat.migration.rewrite import MigrationError, migrate_file, write_file
    from pynenc_celery_compat.migration.views import side_by_side as columns
    from pynenc_celery_compat.migration.views import unified_diff

    rewrites: list[Rewrite] = []
    errors: list[str] = []
    for file in files:
        try:
            rewrite = migrate_file(file, include_app=include_app)
        except MigrationError as error:
            errors.append(str(error))
            continue
        except OSError as error:
            errors.append(f"{file}: cannot read: {error.strerror or error}")
            continue
        rewrites.append(rewrite)
        if not rewrite.changed:
            continue
        if write:
            try:
                write_file(rewrite)
            except (MigrationError, OSError) as error:
                errors.append(str(error))
                continue
            click.echo(f"rewrote {rewrite.path}: {_counts(rewrite)}")
        elif show_diff:
            click.echo(unified_diff(rewrite), nl=False)
        elif side_by_side:
            click.echo(columns(rewrite, color=True))
        else:
            click.echo(_summary(rewrite) + "\n")
    if html_file is not None:
        _write_html(html_file, rewrites)
    if not (write or show_diff or side_by_side):
        _report_untouched(rewrites)
    skipped_tests = len(every) - len(files) if not include_tests else 0
    _report(rewrites, errors, skipped_tests, write=write, to_stderr=show_diff)
    if errors:
        raise SystemExit(1)


def _check_usage(paths: tuple[str, ...], show_diff: bool, side_by_side: bool, write: bool) -> None:
    """Exit with status 2 on a broker URL, an unknown option or two modes at once."""
    for path in paths:
        if "://" in path:
            raise click.UsageError(_BROKER_MIGRATE.format(url=path))
    for path in paths:
        if path.startswith("-") and not Path(path).exists():
            raise click.UsageError(f"no such option: {path}")
    if sum((show_diff, side_by_side, write)) > 1:
        raise click.UsageError("--diff, --side-by-side and --write are alternatives: pass one")


def _check_html_target(html_file: str) -> None:
    """Exit with status 2 before anything is read or written when the report cannot be
    written where asked (its folder does not exist, or is not a folder)."""
    folder = Path(html_file).absolute().parent
    if not folder.is_dir():
        raise click.UsageError(
            f"cannot write the HTML report {html_file!r}: the folder {str(folder)!r} does not "
            "exist; create it first or name a file in an existing folder"
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _counts(rewrite: Rewrite) -> str:
    return f"{len(rewrite.moved)} moved, {len(rewrite.kept)} kept on Celery"


def _summary(rewrite: Rewrite) -> str:
    """The moved and kept names of one changed module, one line each, in line order."""
    names = [m.name for m in rewrite.moved] + [k.name for k in rewrite.kept]
    width = max((len(name) for name in names), default=0)
    entries: list[tuple[int, str]] = []
    for moved in rewrite.moved:
        where = f"{moved.celery_module} -> {moved.compat_module}"
        entries.append((moved.line, f"moved  {moved.name:<{width}}  {where}"))
    for kept in rewrite.kept:
        where = f"{kept.celery_module}: {kept.reason}"
        entries.append((kept.line, f"kept   {kept.name:<{width}}  {where}"))
    entries.sort(key=lambda entry: entry[0])
    lines = [f"would rewrite {rewrite.path}"]
    lines.extend(f"  line {line:<4} {text}" for line, text in entries)
    return "\n".join(lines)


def _report_untouched(rewrites: list[Rewrite]) -> None:
    """Modules that import from Celery and have nothing to move, with why."""
    untouched = [r for r in rewrites if not r.changed and r.kept]
    if not untouched:
        return
    click.echo("unchanged, their Celery imports stay:")
    for rewrite in untouched:
        names = ", ".join(f"{k.name} (line {k.line}: {k.reason})" for k in rewrite.kept)
        click.echo(f"  {rewrite.path}: {names}")
    click.echo()


def _write_html(html_file: str, rewrites: list[Rewrite]) -> None:
    from pynenc_celery_compat.migration.views import html_report

    target = Path(html_file)
    try:
        target.write_text(html_report(rewrites), encoding="utf-8")
    except OSError as error:
        raise click.UsageError(f"cannot write the HTML report {html_file!r}: {error}") from None
    click.echo(f"wrote the HTML report to {target}", err=True)


def _report(
    rewrites: list[Rewrite], errors: list[str], skipped_tests: int, *, write: bool, to_stderr: bool
) -> None:
    """The closing lines: what was (or would be) changed, test files left alone, errors."""
    changed = [r for r in rewrites if r.changed]
    moved = sum(len(r.moved) for r in changed)
    kept = sum(len(r.kept) for r in rewrites)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    verb = "changed" if write else "would change"
    tail = (
        f"{len(changed)} of {_plural(len(rewrites), 'file')} {verb} "
        f"({_plural(moved, 'name')} moved, {kept} kept)"
    )
    if errors:
        tail += f"; {len(errors)} could not be migrated"
    lines = [tail + "."]
    if skipped_tests:
        lines.append(
            f"Left {_plural(skipped_tests, 'test file')} alone (--include-tests migrates them too)."
        )
    if changed and not write:
        lines.append("Nothing was written: run again with --write to apply.")
    click.echo("\n".join(lines), err=to_stderr)
