"""``pynenc-celery audit``: every Celery API use in a codebase, rated against the compat layer.

Contract (implemented by the scanner; the CLI and the tests use it):

- ``audit_paths(paths, *, exclude=(), include_tests=True) -> AuditReport``
- ``audit_source(source, *, path="<string>") -> list[Finding]``
- each ``Finding`` has ``support`` (:class:`Support`), ``reason`` and ``section`` (a link into
  ``migration_guide/``, e.g. ``migration_guide/mapping.md#decorator-options``).
"""

from __future__ import annotations

import ast
import enum
import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath


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

    def by_support(self) -> dict[Support, int]:
        """How many findings of each rating."""
        counts = dict.fromkeys(Support, 0)
        for finding in self.findings:
            counts[finding.support] += 1
        return counts

    @property
    def blocked(self) -> bool:
        """Something is not supported, or a file could not be read: the exit status is 1."""
        return bool(self.errors) or any(
            finding.support is Support.UNSUPPORTED for finding in self.findings
        )


def module_name(path: Path, cache: dict[Path, bool] | None = None) -> str:
    """The dotted name ``path`` is imported under: its packages (folders with an
    ``__init__.py``) up to the first folder without one."""
    known = cache if cache is not None else {}
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while True:
        if folder not in known:
            known[folder] = (folder / "__init__.py").is_file()
        if not known[folder] or folder.parent == folder:
            break
        parts.append(folder.name)
        folder = folder.parent
    return ".".join(reversed(parts)) or path.stem


def _parse(data: bytes | str, path: str) -> ast.Module:
    """The module's tree; ``SyntaxError``/``ValueError`` when it does not parse."""
    return ast.parse(data, filename=path)


def _describe(error: Exception) -> str:
    if isinstance(error, SyntaxError):
        where = f"line {error.lineno}: " if error.lineno else ""
        return f"does not parse: {where}{error.msg}"
    if isinstance(error, ValueError):  # null bytes, before Python 3.12
        return f"does not parse: {error}"
    return f"cannot be read: {error}"


def audit_source(source: str, *, path: str = "<string>") -> list[Finding]:
    """The findings of one module's source (other modules unknown: names imported from
    them count as what their use says).

    :raises SyntaxError: the source does not parse.
    """
    from pynenc_celery_compat.migration import resolve, scan
    from pynenc_celery_compat.migration.files import is_test_file

    pure = PurePath(path)
    module = pure.parent.name if pure.stem == "__init__" else pure.stem
    tree = _parse(source, path)
    found = scan.scan_module(
        tree, path=path, module=module, is_test=is_test_file(pure), is_package=False
    )
    return resolve.findings([found])


def _relative(file: Path, roots: Sequence[Path]) -> PurePath:
    """``file`` relative to the argument it was found under (test files are told apart by
    the folders inside the audited tree, not above it)."""
    for root in roots:
        if root.is_dir() and file.is_relative_to(root):
            return file.relative_to(root)
    return PurePath(file.name)


def audit_paths(
    paths: Iterable[str | Path],
    *,
    exclude: Sequence[str] = (),
    include_tests: bool = True,
) -> AuditReport:
    """Every Celery use in the Python files under ``paths`` (see :func:`.files.discover`
    for ``exclude`` and ``include_tests``), each parsed once.

    :raises FileNotFoundError: a path does not exist.
    """
    from pynenc_celery_compat.migration import resolve, scan
    from pynenc_celery_compat.migration.files import discover, is_test_file

    given = [Path(path) for path in paths]
    files = discover(given, exclude=exclude, include_tests=include_tests)
    report = AuditReport(files=[str(file) for file in files])
    folders: dict[Path, bool] = {}
    scans = []
    # syntax trees make no reference cycles, and collecting while millions of their nodes
    # are made costs a fifth of the run: the collector waits until the files are read
    collecting = gc.isenabled()
    gc.disable()
    try:
        for file in files:
            try:
                tree = _parse(file.read_bytes(), str(file))
            except (OSError, SyntaxError, ValueError) as error:
                report.errors[str(file)] = _describe(error)
                continue
            scans.append(
                scan.scan_module(
                    tree,
                    path=str(file),
                    module=module_name(file, folders),
                    is_test=is_test_file(_relative(file, given)),
                    is_package=file.name == "__init__.py",
                )
            )
    finally:
        if collecting:
            gc.enable()
    report.findings = resolve.findings(scans)
    return report
