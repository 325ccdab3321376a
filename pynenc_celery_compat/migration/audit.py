"""``pynenc-celery audit``: every Celery API use in a codebase, rated against the compat layer.

Contract (implemented by the scanner; the CLI and the tests use it):

- ``audit_paths(paths, *, exclude=(), include_tests=True) -> AuditReport``
- ``audit_source(source, *, path="<string>") -> list[Finding]``
- each ``Finding`` has ``support`` (:class:`Support`), ``reason`` and ``section`` (a link into
  ``migration_guide/``, e.g. ``migration_guide/mapping.md#decorator-options``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Support(enum.StrEnum):
    SUPPORTED = "supported"
    DIFFERENCE = "supported with a difference"
    UNSUPPORTED = "not supported"


@dataclass(frozen=True)
class Finding:
    """One use of a Celery API at ``path:line``."""

    path: str
    line: int
    column: int
    #: imports, decorators, calling, canvas, results, signals, settings, beat, testing, app,
    #: worker
    feature: str
    #: what was used, as written or normalised (``shared_task(bind=True)``, ``.apply_async(eta=)``)
    api: str
    support: Support
    reason: str
    #: where the guide explains it: ``migration_guide/FILE.md#anchor``
    section: str


@dataclass
class AuditReport:
    """Findings of a run, with the files read and those that could not be parsed."""

    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: path -> the parser's message
    errors: dict[str, str] = field(default_factory=dict)
