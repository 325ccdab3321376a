"""``pynenc-celery migrate``'s rewrite of Celery imports to ``pynenc_celery_compat`` (libcst).

Contract (implemented by the rewrite; the CLI, the guide generator and the tests use it):

- ``migrate_source(source, *, path="<string>", include_app=False) -> Rewrite``
- ``migrate_file(path, *, include_app=False) -> Rewrite`` (reads; never writes)
- ``write_file(rewrite)``: writes a changed rewrite back in place, atomically, in the file's
  encoding, line endings and mode, after checking once more that it parses
- ``Rewrite.changed`` is false when nothing moved; a second run of a migrated source
  changes nothing; ``MigrationError`` when the source does not parse or the result would not
  parse back.

What moves (the rules are in :mod:`.transform` and :mod:`.uses`):

- ``from celery… import a, b as c``: the names the compat layer offers move to a ``from
  pynenc_celery_compat… import`` of their own, the others stay (the statement is split, its
  comments follow their names). ``Celery`` stays unless ``include_app``. Star and relative
  imports are left alone.
- ``import celery`` (``as c``, ``import celery.states``…): each attribute use of an offered
  name is rewritten to the compat module (``celery.shared_task`` ->
  ``pynenc_celery_compat.shared_task``, with ``import pynenc_celery_compat`` added next to
  the Celery import); the Celery import is kept while a use remains, replaced when none
  does. An aliased module import whose every use the compat module offers is swapped
  whole (``import celery.states as s`` -> ``import pynenc_celery_compat.states as s``).
"""

from __future__ import annotations

import ast
import io
import os
import stat
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

#: why a name stays on Celery
NOT_OFFERED = "not offered by pynenc_celery_compat"
APP_CLASS = "the app class stays on Celery while modules migrate; --include-app moves it"
STAR = "star import"
BARE_MODULE = "the module object itself is used, not one of its names"
ASSIGNED = "assigned or deleted: a change made to Celery's own module stays on Celery"
IN_STRING = "named in a string (an annotation, __all__): strings are not rewritten"
EXPORTED = "exported in __all__: the module import stays as it is"
REBOUND = "the name is also bound to something other than this Celery module here"
TASK_CLASS = (
    "a task base class: shared_task combines it with the compat Task, so this module's tasks "
    "move without it; moved, every @app.task(base=...) built on it elsewhere would switch too; "
    "--include-app moves it"
)
CURRENT_APP_TASK = (
    "a task made by current_app.task is a task of the current app, a Celery task while that "
    "is a celery.Celery (current_app is the same object in the compat layer); declare it with "
    "shared_task to move it"
)


def module_use_stays(use: str, line: int, why: str) -> str:
    """Why a module imported by name (``from celery import states``) stays: one of its uses
    here is not offered by its compat module (or stays on Celery)."""
    return f"its use {use} (line {line}) {why}: the module stays whole"


_BOM = "\ufeff"


class MigrationError(ValueError):
    """A file the rewrite cannot take: it does not parse (the message names the file, line
    and parser's reason), or its rewrite would not parse back (a bug: nothing is written)."""


@dataclass(frozen=True)
class Moved:
    """One name moved to the compat layer."""

    line: int
    celery_module: str
    name: str
    compat_module: str


@dataclass(frozen=True)
class Kept:
    """One Celery name left on Celery, and why (not offered, or the app class)."""

    line: int
    celery_module: str
    name: str
    reason: str


@dataclass(frozen=True)
class Rewrite:
    """A module before and after the rewrite."""

    path: str
    original: str
    migrated: str
    moved: tuple[Moved, ...] = ()
    kept: tuple[Kept, ...] = ()
    #: the file's encoding (its coding cookie, else UTF-8); a BOM stays in the text
    encoding: str = "utf-8"

    @property
    def changed(self) -> bool:
        return self.original != self.migrated


def migrate_source(source: str, *, path: str = "<string>", include_app: bool = False) -> Rewrite:
    """Rewrite the Celery imports of ``source`` (the text of one module).

    :raises MigrationError: ``source`` does not parse (``path:line: reason``), or the rewrite
        would not parse back.
    """
    bom = _BOM if source.startswith(_BOM) else ""
    text = source[len(bom) :]
    tree = _parse_ast(text, path)
    if not _imports_celery(tree):
        return Rewrite(path=path, original=source, migrated=source)
    # libcst is imported here only: the CLI's other commands do not pay for it
    from pynenc_celery_compat.migration import transform

    try:
        result = transform.rewrite_module(text, include_app=include_app)
    except transform.ParseFailure as error:
        raise MigrationError(f"{path}:{error.line}: cannot parse: {error.reason}") from None
    migrated = bom + result.code
    if result.code != text:
        check_parses(result.code, path)
    return Rewrite(
        path=path,
        original=source,
        migrated=migrated,
        moved=tuple(sorted(result.moved, key=lambda m: m.line)),
        kept=tuple(sorted(result.kept, key=lambda k: k.line)),
    )


def migrate_file(path: str | Path, *, include_app: bool = False) -> Rewrite:
    """Read ``path`` (in its declared encoding, line endings untouched) and rewrite it.

    :raises MigrationError: it cannot be decoded, or as :func:`migrate_source`.
    """
    file = Path(path)
    data = file.read_bytes()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        # a BOM is kept in the text (and written back) rather than dropped by the codec
        codec = "utf-8" if encoding == "utf-8-sig" else encoding
        source = data.decode(codec)
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        raise MigrationError(f"{file}: cannot decode: {error}") from None
    rewrite = migrate_source(source, path=str(file), include_app=include_app)
    return Rewrite(
        path=rewrite.path,
        original=rewrite.original,
        migrated=rewrite.migrated,
        moved=rewrite.moved,
        kept=rewrite.kept,
        encoding=codec,
    )


def write_file(rewrite: Rewrite) -> bool:
    """Write ``rewrite.migrated`` over ``rewrite.path`` if it changed: parsed back once more,
    encoded as the original was, written to a temporary file beside it with the original's
    mode, then moved over it (``os.replace``: readers see the old or the new file, never
    half of one). A symbolic link is followed (its target is rewritten). Returns whether it
    wrote.

    :raises MigrationError: the rewrite does not parse back, or the file changed on disk
        since it was read (nothing is written).
    """
    if not rewrite.changed:
        return False
    check_parses(rewrite.migrated.removeprefix(_BOM), rewrite.path)
    target = Path(rewrite.path).resolve()
    if target.read_bytes() != rewrite.original.encode(rewrite.encoding):
        raise MigrationError(f"{rewrite.path}: changed on disk since it was read; run again")
    data = rewrite.migrated.encode(rewrite.encoding)
    mode = stat.S_IMODE(target.stat().st_mode)
    # replacing needs only the folder to be writable: a file made read-only (generated or
    # vendored code) is refused as an in-place write would be, for root too
    if not mode & 0o222 or not os.access(target, os.W_OK):
        raise MigrationError(
            f"{rewrite.path}: read-only, not rewritten; make it writable (chmod u+w) to "
            "migrate it, or leave it out with --exclude"
        )
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def check_parses(code: str, path: str) -> None:
    """Raise :class:`MigrationError` unless ``code`` parses with both libcst and ``ast``."""
    import libcst

    try:
        libcst.parse_module(code)
        ast.parse(code)
    except (libcst.ParserSyntaxError, SyntaxError, ValueError) as error:
        raise MigrationError(
            f"{path}: the rewritten module would not parse ({error}); nothing was written. "
            "This is a bug of pynenc-celery migrate: please report it with the file."
        ) from None


def _parse_ast(text: str, path: str) -> ast.Module:
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as error:
        version = f"Python {sys.version_info.major}.{sys.version_info.minor}"
        raise MigrationError(
            f"{path}:{error.lineno or 0}: cannot parse: {error.msg} (read as {version}: for "
            "newer syntax, run pynenc-celery migrate with the Python version the project "
            "runs on)"
        ) from None
    except ValueError as error:  # null bytes
        raise MigrationError(f"{path}: cannot parse: {error}") from None


def _imports_celery(tree: ast.Module) -> bool:
    """Whether the module imports anything from Celery (absolute imports only: a relative
    ``from .celery import app`` is the project's own module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_is_celery(a.name) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level and _is_celery(node.module or ""):
            return True
    return False


def _is_celery(module: str) -> bool:
    return module == "celery" or module.startswith("celery.")
