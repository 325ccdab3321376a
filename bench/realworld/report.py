"""The Markdown report of a run: per project what audit found, what migrate changed, and the
project's own tests before and after, with the investigated reason of every failure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.realworld.outcomes import ERROR
from bench.realworld.projects import BASELINE, PASS_TITLES, PASSES, Project
from bench.realworld.steps import (
    DIFFERENCE,
    SUPPORTED,
    UNSUPPORTED,
    AuditResult,
    MigrateResult,
    SuiteRun,
)

NOT_INVESTIGATED = "**not investigated**"
_RATED = (SUPPORTED, DIFFERENCE, UNSUPPORTED)
GUIDE = "../../migration_guide/"


@dataclass
class ProjectResult:
    project: Project
    audit: AuditResult | None = None
    migrate: MigrateResult | None = None
    tests: dict[str, SuiteRun] = field(default_factory=dict)
    #: set when a step could not run (setup, a tool that crashed)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Failure:
    pass_name: str
    test_id: str
    status: str
    exception: str
    failed_before: bool
    reason: str | None


def failures(result: ProjectResult) -> list[Failure]:
    """Every failing test of every pass, with what is known about it."""
    before = result.tests.get(BASELINE)
    failed_before = set(before.outcome.statuses) if before else set()
    found = []
    for pass_name in PASSES:
        run = result.tests.get(pass_name)
        if run is None:
            continue
        for test_id, status in sorted(run.outcome.statuses.items()):
            found.append(
                Failure(
                    pass_name,
                    test_id,
                    status,
                    run.outcome.reasons.get(test_id, ""),
                    test_id in failed_before,
                    result.project.explain(pass_name, test_id),
                )
            )
    return found


def unexplained(results: Iterable[ProjectResult]) -> list[str]:
    """What makes the run fail: a step that broke, a suite that did not complete, a failing
    test whose reason was never investigated."""
    found = []
    for result in results:
        name = result.project.name
        found += [f"{name}: {problem}" for problem in result.problems]
        if result.audit and result.audit.problem:
            found.append(f"{name}: audit: {result.audit.problem}")
        if result.migrate and result.migrate.problem:
            found.append(f"{name}: migrate: {result.migrate.problem}")
        for pass_name, run in result.tests.items():
            if not run.outcome.completed:
                found.append(f"{name}: the {pass_name} test run did not complete")
        found += [
            f"{name} [{f.pass_name}] {f.test_id}: {f.exception}"
            for f in failures(result)
            if f.reason is None
        ]
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _counts(run: SuiteRun | None) -> str:
    if run is None:
        return "not run"
    if not run.outcome.completed:
        return "did not complete"
    c = run.outcome.counts
    return f"{c.passed}/{c.ran} passed"


def _finding_line(finding: dict[str, Any]) -> str:
    where = f"{finding.get('path', '?')}:{finding.get('line', '?')}"
    section = str(finding.get("section", ""))
    link = f" ([{section.split('/')[-1]}]({GUIDE}{section.removeprefix('migration_guide/')}))"
    return (
        f"- `{where}` `{finding.get('api', '?')}` ({finding.get('feature', '?')}): "
        f"{finding.get('reason', '')}{link if section else ''}"
    )


def summary_table(results: list[ProjectResult]) -> list[str]:
    lines = [
        "| project | files audited | supported | with a difference | not supported "
        "| audit | migrate | files changed | tests before | after | after, pynenc runner |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratings = r.audit.by_rating if r.audit and not r.audit.problem else None
        audit_cells = (
            [str(r.audit.files if r.audit else "?")]
            + [str(ratings[k]) if ratings is not None else "?" for k in (SUPPORTED, DIFFERENCE)]
            + [str(ratings[UNSUPPORTED]) if ratings is not None else "?"]
        )
        timing = [
            f"{r.audit.run.seconds:.2f} s" if r.audit else "-",
            f"{r.migrate.run.seconds:.2f} s" if r.migrate else "-",
            str(len(r.migrate.diffs)) if r.migrate else "-",
        ]
        tests = [_counts(r.tests.get(p)) for p in PASSES]
        name = f"{r.project.name} {r.project.version}"
        lines.append("| " + " | ".join([name, *audit_cells, *timing, *tests]) + " |")
    return lines


def audit_section(audit: AuditResult, project: Project) -> list[str]:
    lines = [
        "### Audit",
        "",
        f"`pynenc-celery audit {project.package} --json`: exit code {audit.run.returncode}, "
        f"{audit.run.seconds:.2f} s (wall time of the command, interpreter start included).",
        "",
    ]
    if audit.problem:
        return [*lines, f"The output could not be read: {audit.problem}", ""]
    ratings = audit.by_rating
    data = audit.data
    switch = [m for m in data.modules if m.get("status") == "can switch now"]
    lines += [
        f"{data.files} files scanned, {len(data.modules)} use Celery, {len(data.findings)} "
        f"findings; modules that can switch now: {len(switch)} of {len(data.modules)}"
        + (f"; {len(data.errors)} files not parsed" if data.errors else "")
        + ".",
        "",
        "| rating | findings |",
        "|---|---|",
        *(f"| {k} | {ratings[k]} |" for k in (SUPPORTED, DIFFERENCE, UNSUPPORTED)),
        *(f"| {k} | {n} |" for k, n in ratings.items() if k not in _RATED),
        "",
    ]
    for title, rating in (("Not supported", UNSUPPORTED), ("With a difference", DIFFERENCE)):
        found = audit.rated(rating)
        if found:
            lines += [f"{title}:", "", *(_finding_line(f) for f in found), ""]
    for module in data.modules:
        blockers = module.get("blocked_by") or []
        if blockers:
            named = ", ".join(f"`{b.get('api')}` (line {b.get('line')})" for b in blockers)
            lines += [f"`{module.get('path')}` is blocked by {named}.", ""]
    supported = audit.rated(SUPPORTED)
    if supported:
        apis = sorted({str(f.get("api", "?")) for f in supported})
        lines += ["Supported: " + ", ".join(f"`{api}`" for api in apis) + ".", ""]
    return lines


def migrate_section(migrate: MigrateResult, project: Project) -> list[str]:
    lines = [
        "### Migrate",
        "",
        f"`pynenc-celery migrate {project.package} --write` (on a copy): exit code "
        f"{migrate.run.returncode}, {migrate.run.seconds:.2f} s, "
        f"{len(migrate.diffs)} file{'' if len(migrate.diffs) == 1 else 's'} changed"
        + (", a second run changed nothing (idempotent)" if migrate.changed_again == [] else "")
        + ".",
        "",
    ]
    if migrate.problem:
        lines += [f"Problem: {migrate.problem}", ""]
    lines += ["Moved to the compat layer:", ""] + [f"- {m}" for m in migrate.moved or ["nothing"]]
    lines += ["", "Left on Celery:", ""] + [f"- {k}" for k in migrate.kept or ["nothing"]]
    lines.append("")
    if migrate.diffs:
        diff = "".join(migrate.diffs.values()).rstrip("\n")
        lines += ["```diff", *diff.splitlines(), "```", ""]
    return lines


def failures_table(result: ProjectResult) -> list[str]:
    """One row per failing test: its result in each pass, its exception and why."""
    by_test: dict[str, list[Failure]] = {}
    for f in failures(result):
        by_test.setdefault(f.test_id, []).append(f)
    if not by_test:
        return []
    passes = [p for p in PASSES if p in result.tests]
    lines = [
        "Every failing test, and why:",
        "",
        "| test | " + " | ".join(PASS_TITLES[p] for p in passes) + " | exception | reason |",
        "|---|" + "---|" * len(passes) + "---|---|",
    ]
    notes: dict[str, int] = {}
    for test_id, found in by_test.items():
        status = {f.pass_name: "error" if f.status == ERROR else "fail" for f in found}
        refs = []
        for f in found:
            reason = f.reason or NOT_INVESTIGATED
            number = notes.setdefault(reason, len(notes) + 1)
            ref = f"({number})" if reason != NOT_INVESTIGATED else reason
            if ref not in refs:
                refs.append(ref)
        cells = [status.get(p, "ok") for p in passes]
        lines.append(
            f"| `{test_id}` | " + " | ".join(cells) + f" | `{_cell(found[-1].exception)}` "
            f"| {', '.join(refs)} |"
        )
    lines.append("")
    lines += [f"({n}) {reason}" + "\n" for reason, n in notes.items() if reason != NOT_INVESTIGATED]
    return lines


def tests_section(result: ProjectResult) -> list[str]:
    command = " ".join(result.project.test_command)
    lines = [
        "### The project's own tests",
        "",
        f"`python {command}` in the unpacked sdist; dependencies "
        + ", ".join(f"`{d}`" for d in result.project.deps)
        + " (pip `--target`, on `PYTHONPATH`); Celery and kombu are this virtualenv's.",
        "",
        "| pass | ran | passed | failed | errors | skipped | time | exit code |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pass_name in PASSES:
        run = result.tests.get(pass_name)
        if run is None:
            continue
        c = run.outcome.counts
        ran = str(c.ran) if run.outcome.completed else "did not complete"
        lines.append(
            f"| {PASS_TITLES[pass_name]} | {ran} | {c.passed} | {c.failed} | {c.errors} "
            f"| {c.skipped} | {run.seconds:.1f} s | {run.returncode} |"
        )
    lines.append("")
    lines += failures_table(result)
    for pass_name, run in result.tests.items():
        if not run.outcome.completed:
            tail = "\n".join(run.output.strip().splitlines()[-20:])
            lines += [f"The {pass_name} run did not complete; its last lines:", ""]
            lines += ["```", tail, "```", ""]
    return lines


def project_section(result: ProjectResult) -> list[str]:
    p = result.project
    lines = [
        f"## {p.name} {p.version}",
        "",
        f"From PyPI: `pip download --no-deps --no-binary {p.name} {p.pin}`; the tools are "
        f"pointed at its package `{p.package}/`.",
        "",
        f"What it uses: {p.uses}.",
        "",
    ]
    lines += [f"**Problem:** {problem}" for problem in result.problems]
    if result.problems:
        lines.append("")
    if result.audit:
        lines += audit_section(result.audit, p)
    if result.migrate:
        lines += migrate_section(result.migrate, p)
    if result.tests:
        lines += tests_section(result)
    if p.findings:
        lines += ["Found when investigating (beyond the suite):", ""]
        lines += [f"- {finding}" for finding in p.findings] + [""]
    return lines


def render(results: list[ProjectResult], header: Iterable[str] = ()) -> str:
    lines = ["# Real Celery codebases through `audit` and `migrate`", "", *header, ""]
    lines += ["## Summary", "", *summary_table(results), ""]
    for result in results:
        lines += project_section(result)
    problems = unexplained(results)
    lines += ["## Open points", ""]
    if not problems:
        problems = ["None: every step ran and every failure is explained."]
    lines += [f"- {_cell(p)}" for p in problems]
    return "\n".join(lines).rstrip("\n") + "\n"
