"""The steps run on a prepared project: ``pynenc-celery audit``, ``pynenc-celery migrate
--write``, the diff they made, and the project's own test suite (each in a subprocess).

The tools are run as a user runs them (the ``pynenc-celery`` command of this virtualenv,
``python -m pynenc_celery_compat`` when the script is not on PATH) and timed from outside.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.realworld.outcomes import PARSERS, SuiteOutcome
from bench.realworld.projects import Project

TOOL_TIMEOUT = 300.0
TEST_TIMEOUT = 900.0
#: the launcher that opts the project's Celery apps into pynenc's in-process runner
LAUNCHER = Path(__file__).with_name("launch.py")

SUPPORTED, DIFFERENCE, UNSUPPORTED = "supported", "supported with a difference", "not supported"
_RATINGS = {
    "supported": SUPPORTED,
    "supported with a difference": DIFFERENCE,
    "difference": DIFFERENCE,
    "not supported": UNSUPPORTED,
    "unsupported": UNSUPPORTED,
}


@dataclass
class AuditData:
    """What ``audit --json`` says: files read, findings, per-module verdicts, parse errors."""

    files: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: one per module using Celery: path, status ("can switch now" / "blocked"), blocked_by
    modules: list[dict[str, Any]] = field(default_factory=list)
    #: path -> the parser's message
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ToolRun:
    command: list[str]
    returncode: int | None
    seconds: float
    output: str

    @property
    def tail(self) -> str:
        return "\n".join(self.output.strip().splitlines()[-12:])


@dataclass
class AuditResult:
    run: ToolRun
    data: AuditData = field(default_factory=lambda: AuditData())
    #: why the JSON could not be read, when it could not
    problem: str = ""

    @property
    def files(self) -> int:
        return self.data.files

    @property
    def findings(self) -> list[dict[str, Any]]:
        return self.data.findings

    @property
    def by_rating(self) -> Counter[str]:
        return Counter(rating(finding) for finding in self.findings)

    def rated(self, wanted: str) -> list[dict[str, Any]]:
        return [finding for finding in self.findings if rating(finding) == wanted]


@dataclass
class MigrateResult:
    run: ToolRun
    #: relative path -> unified diff of that file
    diffs: dict[str, str] = field(default_factory=dict)
    #: one line per moved name: ``path:line celery.module.name -> compat.module``
    moved: list[str] = field(default_factory=list)
    #: one line per name left on Celery, with the reason
    kept: list[str] = field(default_factory=list)
    #: files a second ``migrate --write`` changed again (none: the rewrite is idempotent)
    changed_again: list[str] | None = None
    problem: str = ""


@dataclass
class SuiteRun:
    pass_name: str
    command: list[str]
    returncode: int | None
    seconds: float
    outcome: SuiteOutcome
    output: str


def tool_command() -> list[str]:
    """How to start ``pynenc-celery`` from this interpreter's environment."""
    script = Path(sys.executable).with_name("pynenc-celery")
    if script.exists():
        return [str(script)]
    found = shutil.which("pynenc-celery")
    return [found] if found else [sys.executable, "-m", "pynenc_celery_compat"]


def _run(
    command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> ToolRun:
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        return ToolRun(command, None, time.monotonic() - started, output)
    return ToolRun(command, done.returncode, time.monotonic() - started, done.stdout + done.stderr)


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def rating(finding: dict[str, Any]) -> str:
    """A finding's rating as one of the three words, whatever spelling the JSON used."""
    raw = str(finding.get("support", "")).strip()
    return _RATINGS.get(raw.lower(), _RATINGS.get(raw.split(".")[-1].lower(), raw or "?"))


def parse_audit_json(text: str) -> AuditData:
    """Read ``audit --json``'s document (text before it, a warning, is skipped); the file
    count is ``counts.files`` (or the length of a ``files`` list), errors a mapping or the
    modules' ``error`` fields. ``ValueError`` when there is no JSON object."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the output")
    data, _ = json.JSONDecoder().raw_decode(text[start:])
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    files = data.get("files")
    if files is None:
        files = (data.get("counts") or {}).get("files", 0)
    modules = [m for m in data.get("modules", []) if isinstance(m, dict)]
    errors = data.get("errors")
    if not isinstance(errors, dict):
        errors = {str(m.get("path")): str(m["error"]) for m in modules if m.get("error")}
    return AuditData(
        files=files if isinstance(files, int) else len(files),
        findings=[f for f in data.get("findings", []) if isinstance(f, dict)],
        modules=modules,
        errors={str(k): str(v) for k, v in errors.items()},
    )


def audit(project: Project, tree: Path) -> AuditResult:
    run = _run([*tool_command(), "audit", project.package, "--json"], tree, TOOL_TIMEOUT)
    result = AuditResult(run)
    try:
        result.data = parse_audit_json(run.output)
    except ValueError as exc:
        result.problem = f"{exc} (exit {run.returncode}): {run.tail}"
    return result


def tree_diff(before: Path, after: Path) -> dict[str, str]:
    """Unified diffs of the ``.py`` files that differ between two copies of a tree."""
    diffs: dict[str, str] = {}
    for old in sorted(before.rglob("*.py")):
        relative = old.relative_to(before).as_posix()
        new = after / relative
        old_text = old.read_text(encoding="utf-8", errors="replace")
        new_text = new.read_text(encoding="utf-8", errors="replace") if new.exists() else ""
        if old_text != new_text:
            diffs[relative] = "".join(
                difflib.unified_diff(
                    old_text.splitlines(keepends=True),
                    new_text.splitlines(keepends=True),
                    fromfile=f"a/{relative}",
                    tofile=f"b/{relative}",
                )
            )
    return diffs


def moved_and_kept(project: Project, tree: Path) -> tuple[list[str], list[str]]:
    """What the rewrite moves and keeps in the project's non-test modules (the library
    contract that ``migrate`` prints from; read on the original tree)."""
    from pynenc_celery_compat.migration.files import discover
    from pynenc_celery_compat.migration.rewrite import migrate_file

    moved: list[str] = []
    kept: list[str] = []
    for path in discover([tree / project.package], include_tests=False):
        rewrite = migrate_file(path)
        where = path.relative_to(tree).as_posix()
        moved += [
            f"{where}:{m.line} `{m.celery_module}.{m.name}` -> `{m.compat_module}`"
            for m in rewrite.moved
        ]
        kept += [
            f"{where}:{k.line} `{k.celery_module}.{k.name}` stays: {k.reason}" for k in rewrite.kept
        ]
    return moved, kept


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.py")}


def migrate(project: Project, original: Path, tree: Path) -> MigrateResult:
    command = [*tool_command(), "migrate", project.package, "--write"]
    run = _run(command, tree, TOOL_TIMEOUT)
    result = MigrateResult(run, diffs=tree_diff(original, tree))
    if run.returncode != 0:
        result.problem = f"exit {run.returncode}: {run.tail}"
    else:
        before = _snapshot(tree)
        again = _run(command, tree, TOOL_TIMEOUT)
        after = _snapshot(tree)
        result.changed_again = sorted(k for k in after if before.get(k) != after[k])
        if again.returncode != 0:
            result.problem = f"the second run: exit {again.returncode}: {again.tail}"
        elif result.changed_again:
            result.problem = f"a second run changed {', '.join(result.changed_again)} again"
    try:
        result.moved, result.kept = moved_and_kept(project, original)
    except NotImplementedError:
        result.problem = result.problem or "the rewrite is not built yet (NotImplementedError)"
    except Exception as exc:  # reported, so the rest of the run still says what it can
        result.problem = result.problem or f"listing moved/kept names failed: {exc!r}"
    return result


def suite_env(tree: Path, deps: Path) -> dict[str, str]:
    """The environment of a test run: this interpreter (Celery, pynenc), the project's
    pinned dependencies and the project's own folder first on the path."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(deps)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_tests(project: Project, tree: Path, deps: Path, pass_name: str, runner: bool) -> SuiteRun:
    """The project's own test command in ``tree``; with ``runner``, through the launcher
    that sends its eager compat calls to pynenc's in-process runner."""
    prefix = [sys.executable, str(LAUNCHER)] if runner else [sys.executable]
    command = [*prefix, *project.test_command]
    run = _run(command, tree, TEST_TIMEOUT, env=suite_env(tree, deps))
    # paths of this machine out of the report: the tree is `.`, the dependencies `<deps>`
    output = run.output.replace(str(deps), "<deps>").replace(str(tree), ".")
    outcome = PARSERS[project.runner](output)
    return SuiteRun(pass_name, command, run.returncode, run.seconds, outcome, output)
