"""Which files a migration run reads: Python files under the given paths, less excluded ones."""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

#: folders never walked into
_SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "env", "__pycache__", "node_modules"}
    | {"build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache", "site-packages"}
)


def is_test_file(path: PurePath) -> bool:
    """A test module or a file under a test folder (``test_*.py``, ``*_test.py``,
    ``tests.py``, ``conftest.py``, ``tests/…``, ``test/…``)."""
    name = path.name
    if name in {"conftest.py", "tests.py", "test.py"}:
        return True
    if name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(part in {"tests", "test", "testing"} for part in path.parts[:-1])


def _excluded(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    candidates = {path.as_posix(), path.name}
    with contextlib.suppress(ValueError):
        candidates.add(path.relative_to(root).as_posix())
    return any(fnmatch.fnmatch(text, pattern) for text in candidates for pattern in patterns)


def discover(
    paths: Iterable[str | Path],
    *,
    exclude: Sequence[str] = (),
    include_tests: bool = True,
) -> list[Path]:
    """The ``.py`` files under ``paths`` (files named directly are always taken, even a test
    file), sorted, with those matching an ``exclude`` glob (against the path, the path
    relative to the argument, or the file name) and, unless ``include_tests``, test files
    left out. A file reached twice (overlapping arguments, a symbolic link) is listed once,
    preferably under a path that is not a link. A path that does not exist raises
    ``FileNotFoundError`` naming it."""
    #: the real file -> the path it is taken under (a file reached twice, by overlapping
    #: arguments or a symbolic link, is read and written once, under its own name)
    found: dict[Path, Path] = {}

    def take(path: Path) -> None:
        real = path.resolve()
        if real not in found or (found[real].is_symlink() and not path.is_symlink()):
            found[real] = path

    for given in paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f"no such file or directory: {str(given)!r}")
        if root.is_file():
            if not _excluded(root, root.parent, exclude):
                take(root)
            continue
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root)
            if any(part in _SKIPPED_DIRS for part in relative.parts[:-1]):
                continue
            if not path.is_file():  # a folder named ``x.py``, a dangling link
                continue
            if _excluded(path, root, exclude):
                continue
            if not include_tests and is_test_file(relative):
                continue
            take(path)
    return sorted(found.values())
