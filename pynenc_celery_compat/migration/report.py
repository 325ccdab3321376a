"""How an :class:`~.audit.AuditReport` is shown: tables per feature, a summary per module,
and one JSON document (its schema is in ``migration_guide/tools.md``)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from pynenc_celery_compat.migration.audit import AuditReport, Finding, Support

#: the order of the tables
FEATURES = (
    "imports",
    "app",
    "settings",
    "decorators",
    "calling",
    "canvas",
    "results",
    "signals",
    "beat",
    "testing",
    "worker",
)
LABELS = {
    Support.SUPPORTED: "supported",
    Support.DIFFERENCE: "difference",
    Support.UNSUPPORTED: "NOT SUPPORTED",
}
_ORDER = {Support.SUPPORTED: 0, Support.DIFFERENCE: 1, Support.UNSUPPORTED: 2}
_JSON_KEYS = {
    Support.SUPPORTED: "supported",
    Support.DIFFERENCE: "supported_with_a_difference",
    Support.UNSUPPORTED: "not_supported",
}
CAN_SWITCH, BLOCKED, ERROR = "can switch now", "blocked", "error"
_API_WIDTH = 44
#: where a wrapped reason starts on a terminal
_INDENT = " " * 6


@dataclass
class ModuleSummary:
    """One file that uses Celery (or could not be read): can it switch now?"""

    path: str
    counts: dict[Support, int] = field(default_factory=lambda: dict.fromkeys(Support, 0))
    blocked_by: list[Finding] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return ERROR
        return BLOCKED if self.blocked_by else CAN_SWITCH


def summarize(report: AuditReport) -> list[ModuleSummary]:
    """Per file, in path order: its counts and the unsupported uses that block it."""
    modules: dict[str, ModuleSummary] = {}
    for finding in report.findings:
        summary = modules.setdefault(finding.path, ModuleSummary(finding.path))
        summary.counts[finding.support] += 1
        if finding.support is Support.UNSUPPORTED:
            summary.blocked_by.append(finding)
    for path, error in report.errors.items():
        modules.setdefault(path, ModuleSummary(path)).error = error
    return [modules[path] for path in sorted(modules)]


def counts(report: AuditReport, modules: list[ModuleSummary]) -> dict[str, int]:
    statuses = [module.status for module in modules]
    found = {_JSON_KEYS[support]: count for support, count in report.by_support().items()}
    return {
        "files": len(report.files),
        "modules_using_celery": sum(1 for module in modules if module.error is None),
        "can_switch_now": statuses.count(CAN_SWITCH),
        "blocked": statuses.count(BLOCKED),
        "errors": len(report.errors),
        "findings": len(report.findings),
        **found,
    }


def as_json(report: AuditReport) -> dict[str, Any]:
    """The report as one JSON document."""
    modules = summarize(report)
    return {
        "tool": "pynenc-celery audit",
        "version": 1,
        "findings": [_finding(finding) for finding in report.findings],
        "modules": [_module(module) for module in modules],
        "counts": counts(report, modules),
        "errors": [{"path": path, "error": error} for path, error in sorted(report.errors.items())],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "feature": finding.feature,
        "api": finding.api,
        "support": finding.support.value,
        "reason": finding.reason,
        "section": finding.section,
    }


def _module(module: ModuleSummary) -> dict[str, Any]:
    return {
        "path": module.path,
        "status": module.status,
        **{_JSON_KEYS[support]: count for support, count in module.counts.items()},
        "blocked_by": [
            {"line": f.line, "api": f.api, "reason": f.reason, "section": f.section}
            for f in module.blocked_by
        ],
        "error": module.error,
    }


def _short(section: str) -> str:
    return section.removeprefix("migration_guide/")


def _table(findings: list[Finding], width: int | None) -> list[str]:
    """One row per use; with ``width`` (a terminal), a row too wide has its reason and
    section under it, wrapped to the width."""
    locations = [f"{f.path}:{f.line}" for f in findings]
    apis = [f.api if len(f.api) <= _API_WIDTH else f.api[: _API_WIDTH - 1] + "…" for f in findings]
    where = max(len(text) for text in locations)
    what = max(len(text) for text in apis)
    label = max(len(LABELS[f.support]) for f in findings)
    lines = []
    for location, api, f in zip(locations, apis, findings, strict=True):
        head = f"  {location:<{where}}  {api:<{what}}  {LABELS[f.support]:<{label}}"
        tail = f"{f.reason}  [{_short(f.section)}]"
        if width is None or len(head) + 2 + len(tail) <= width:
            lines.append(f"{head}  {tail}")
            continue
        if len(head.rstrip()) > width:  # columns wider than the terminal: not aligned
            head = f"  {location}  {api}  {LABELS[f.support]}"
        if len(head) > width:
            lines += [f"  {location}", *_wrapped(f"{api}  {LABELS[f.support]}", width, _INDENT)]
        else:
            lines.append(head.rstrip())
        lines += _wrapped(tail, width, _INDENT)
    return lines


def _wrapped(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(
        text,
        max(width, len(indent) + 20),
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def text(
    report: AuditReport, *, least: Support = Support.SUPPORTED, width: int | None = None
) -> str:
    """The terminal report: one table per feature (findings rated ``least`` or worse),
    then the summary per module and the counts. With ``width`` (a terminal's), long rows
    are wrapped to it; without, each use is one line (for ``grep``)."""
    modules = summarize(report)
    total = counts(report, modules)
    by_support = report.by_support()
    unread = f" ({total['errors']} could not be read)" if total["errors"] else ""
    lines = [
        f"pynenc-celery audit: {total['files']} Python files{unread}, "
        f"{total['modules_using_celery']} use Celery; {total['findings']} uses: "
        f"{by_support[Support.SUPPORTED]} supported, "
        f"{by_support[Support.DIFFERENCE]} supported with a difference, "
        f"{by_support[Support.UNSUPPORTED]} not supported",
    ]
    if width is not None:
        lines = textwrap.wrap(lines[0], width, subsequent_indent="  ")
    shown = [f for f in report.findings if _ORDER[f.support] >= _ORDER[least]]
    for feature in (*FEATURES, *sorted({f.feature for f in shown} - set(FEATURES))):
        rows = [f for f in shown if f.feature == feature]
        if rows:
            lines += ["", f"== {feature} ({len(rows)}) ==", *_table(rows, width)]
    lines += ["", "== summary by module ==", *_summary(modules, width), ""]
    last = (
        f"modules using Celery: {total['modules_using_celery']}; can switch now: "
        f"{total['can_switch_now']}; blocked: {total['blocked']}; could not be read: "
        f"{total['errors']}"
    )
    lines += textwrap.wrap(last, width) if width is not None else [last]
    return "\n".join(lines)


def _blockers(module: ModuleSummary) -> str:
    """``by: result.args (lines 4, 7), result.worker (line 7)``: each use once."""
    lines: dict[str, list[int]] = {}
    for finding in module.blocked_by:
        lines.setdefault(finding.api, []).append(finding.line)
    return "by: " + ", ".join(
        f"{api} (line{'s' if len(at) > 1 else ''} {', '.join(map(str, at))})"
        for api, at in lines.items()
    )


def _summary(modules: list[ModuleSummary], width: int | None) -> list[str]:
    if not modules:
        return ["  no Celery use found"]
    widest = max(len(module.path) for module in modules)
    lines = []
    for module in modules:
        if module.error is not None:
            detail = module.error
        elif module.blocked_by:
            detail = _blockers(module)
        else:
            detail = (
                f"{module.counts[Support.SUPPORTED]} supported, "
                f"{module.counts[Support.DIFFERENCE]} with a difference"
            )
        line = f"  {module.status:<14}  {module.path:<{widest}}  {detail}"
        if width is None or len(line) <= width:
            lines.append(line)
            continue
        head = f"  {module.status:<14}  {module.path}"
        if len(head) > width:
            lines += [f"  {module.status}", *_wrapped(module.path, width, _INDENT)]
        else:
            lines.append(head)
        lines += _wrapped(detail, width, _INDENT)
    return lines
