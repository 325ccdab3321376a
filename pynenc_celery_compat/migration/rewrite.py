"""``pynenc-celery migrate``'s rewrite of Celery imports to ``pynenc_celery_compat`` (libcst).

Contract (implemented by the rewrite; the CLI, the guide generator and the tests use it):

- ``migrate_source(source, *, path="<string>", include_app=False) -> Rewrite``
- ``migrate_file(path, *, include_app=False) -> Rewrite`` (reads; never writes)
- ``Rewrite.changed`` is false when nothing moved; a second run of a migrated source
  changes nothing; ``MigrationError`` when the source does not parse or the result would not
  parse back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    @property
    def changed(self) -> bool:
        return self.original != self.migrated


def migrate_source(source: str, *, path: str = "<string>", include_app: bool = False) -> Rewrite:
    raise NotImplementedError


def migrate_file(path: str | Path, *, include_app: bool = False) -> Rewrite:
    file = Path(path)
    return migrate_source(file.read_text(encoding="utf-8"), path=str(file), include_app=include_app)
