"""Getting a project ready: its sdist from PyPI, unpacked twice (original and to migrate),
and its test dependencies in a folder of their own (never in this virtualenv).

Layout under the work folder (``bench/results/realworld/`` by default, git-ignored)::

    downloads/NAME-VERSION.tar.gz    the sdist (kept: a second run does not download it again)
    deps/NAME-VERSION/               pip install --target (kept while the pins are the same)
    src/NAME-VERSION/original/       unpacked afresh on every run
    src/NAME-VERSION/migrated/       a copy of original, rewritten by ``migrate --write``
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.realworld.projects import Project

PIP_TIMEOUT = 600.0


class SetupError(RuntimeError):
    """A project could not be prepared (download, unpack or dependency install failed)."""


@dataclass(frozen=True)
class Workspace:
    root: Path
    original: Path
    migrated: Path
    deps: Path


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SetupError(f"`{' '.join(command)}` took more than {PIP_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise SetupError(f"`{' '.join(command)}` failed ({done.returncode}):\n{tail}")


def download(project: Project, downloads: Path) -> Path:
    """The project's sdist, downloaded once (only the project itself is taken from source:
    its build requirements may come as wheels)."""
    downloads.mkdir(parents=True, exist_ok=True)
    found = _archive_of(project, downloads)
    if found is not None:
        return found
    _pip(
        "download",
        "--no-deps",
        "--no-binary",
        project.name,
        "--dest",
        str(downloads),
        project.pin,
    )
    found = _archive_of(project, downloads)
    if found is None:
        raise SetupError(f"pip downloaded no sdist of {project.pin} into {downloads}")
    return found


def _archive_of(project: Project, downloads: Path) -> Path | None:
    stems = {
        f"{project.name}-{project.version}",
        f"{project.name.replace('-', '_')}-{project.version}",
    }
    for path in sorted(downloads.iterdir()):
        for suffix in (".tar.gz", ".zip"):
            if path.name.endswith(suffix) and path.name[: -len(suffix)].lower() in stems:
                return path
    return None


def unpack(archive: Path, into: Path) -> Path:
    """Unpack ``archive``'s top folder as ``into`` (replaced if it exists); returns ``into``."""
    staging = into.with_name(into.name + ".unpacking")
    for path in (into, staging):
        if path.exists():
            shutil.rmtree(path)
    staging.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
    tops = [path for path in staging.iterdir() if path.is_dir()]
    if len(tops) != 1:
        raise SetupError(f"{archive.name}: expected one top folder, found {len(tops)}")
    tops[0].rename(into)
    shutil.rmtree(staging)
    return into


def install_deps(project: Project, deps: Path) -> None:
    """``pip install --no-deps --target deps`` of the pinned test dependencies, skipped when
    the folder already holds exactly these pins."""
    stamp = deps / ".pins"
    wanted = "\n".join(project.deps)
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return
    if deps.exists():
        shutil.rmtree(deps)
    deps.mkdir(parents=True)
    if project.deps:
        _pip("install", "--quiet", "--no-deps", "--target", str(deps), *project.deps)
    stamp.write_text(wanted, encoding="utf-8")


def prepare(project: Project, work: Path) -> Workspace:
    """Download, unpack (original and a copy to migrate) and install test dependencies."""
    label = f"{project.name}-{project.version}"
    archive = download(project, work / "downloads")
    root = work / "src" / label
    original = unpack(archive, root / "original")
    migrated = root / "migrated"
    if migrated.exists():
        shutil.rmtree(migrated)
    shutil.copytree(original, migrated)
    deps = work / "deps" / label
    install_deps(project, deps)
    if not (original / project.package).is_dir():
        raise SetupError(f"{label}: no folder {project.package!r} in the sdist")
    return Workspace(root=root, original=original, migrated=migrated, deps=deps)
