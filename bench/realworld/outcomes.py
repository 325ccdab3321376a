"""What a project's own test run said: counts, and for each failing test its first exception line.

Two output formats are read: unittest's (Django's ``manage.py test`` and ``python -m
unittest``) and pytest's (with ``-rfE``, so failing tests are listed with their exception).
Only the parts the runners print for every run are relied on: the summary line and the
failure blocks; a run with no summary did not run its tests (an import error at start, a
crash) and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"

_SEPARATOR = re.compile(r"^(=+|-+)$")
_UNITTEST_HEAD = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([^)]*)\)\s*$")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ")
_UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$")
_PYTEST_LISTED = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - (.*))?$")
_PYTEST_COUNT = re.compile(
    r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)\b"
)
_PYTEST_SUMMARY = re.compile(r"^=+ (.*\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed).*) =+$")


@dataclass
class SuiteCounts:
    ran: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

    @property
    def not_passed(self) -> int:
        return self.failed + self.errors


@dataclass
class SuiteOutcome:
    """The parsed result of one test run; ``statuses``/``reasons`` hold failing tests only."""

    counts: SuiteCounts = field(default_factory=SuiteCounts)
    #: test id -> FAILED or ERROR
    statuses: dict[str, str] = field(default_factory=dict)
    #: test id -> the exception line that ended its traceback
    reasons: dict[str, str] = field(default_factory=dict)
    #: False when the output had no summary line: the suite did not run
    completed: bool = False


def exception_line(traceback_text: str) -> str:
    """The exception a traceback ended with (``ValueError: bad``), first line only.

    The last ``File`` frame is followed by its source lines (indented); the first line after
    them that starts at column 0 is the exception. Falls back to the last non-empty line.
    """
    lines = traceback_text.splitlines()
    last_frame = max((i for i, line in enumerate(lines) if line.startswith("  File ")), default=-1)
    for line in lines[last_frame + 1 :]:
        if line and not line[0].isspace() and not _SEPARATOR.match(line):
            return line.strip()
    tail = [line.strip() for line in lines if line.strip() and not _SEPARATOR.match(line)]
    return tail[-1] if tail else ""


def unittest_id(method: str, where: str) -> str:
    """A test id ``module.Class.method`` from unittest's ``method (where)`` heading (Python
    3.11 writes the full id in the brackets, older ones ``module.Class`` only)."""
    if where == method or where.endswith("." + method):
        return where
    return f"{where}.{method}"


def parse_unittest(output: str) -> SuiteOutcome:
    """Read unittest's output (any verbosity)."""
    outcome = SuiteOutcome()
    lines = output.splitlines()
    index = 0
    while index < len(lines):
        head = _UNITTEST_HEAD.match(lines[index])
        if head is None or index == 0 or not _SEPARATOR.match(lines[index - 1]):
            index += 1
            continue
        kind, method, where = head.groups()
        test_id = unittest_id(method, where)
        body: list[str] = []
        index += 1
        # an optional docstring line, then a dashed separator, then the traceback up to the
        # next block (a line of '=') or the closing dashes before "Ran N tests"
        while index < len(lines) and not lines[index].startswith("-" * 20):
            index += 1
        index += 1
        while index < len(lines) and not _SEPARATOR.match(lines[index]):
            body.append(lines[index])
            index += 1
        outcome.statuses[test_id] = ERROR if kind == "ERROR" else FAILED
        outcome.reasons[test_id] = exception_line("\n".join(body)) or kind
    counts = outcome.counts
    for line in lines:
        ran = _UNITTEST_RAN.match(line)
        if ran:
            counts.ran = int(ran.group(1))
            continue
        end = _UNITTEST_END.match(line)
        if end and counts.ran:
            outcome.completed = True
            details = dict(_details(end.group(2) or ""))
            counts.failed = details.get("failures", 0) + details.get("unexpected successes", 0)
            counts.errors = details.get("errors", 0)
            counts.skipped = details.get("skipped", 0)
    counts.passed = max(0, counts.ran - counts.failed - counts.errors - counts.skipped)
    return outcome


def _details(text: str) -> list[tuple[str, int]]:
    pairs = []
    for part in text.split(","):
        name, _, number = part.strip().partition("=")
        if number.strip().isdigit():
            pairs.append((name.strip(), int(number)))
    return pairs


def parse_pytest(output: str) -> SuiteOutcome:
    """Read pytest's output; failing tests are named by the ``-rfE`` summary lines."""
    outcome = SuiteOutcome()
    for line in output.splitlines():
        listed = _PYTEST_LISTED.match(line)
        if listed:
            kind, test_id, reason = listed.groups()
            outcome.statuses[test_id] = ERROR if kind == "ERROR" else FAILED
            outcome.reasons[test_id] = (reason or kind).strip()
        summary = _PYTEST_SUMMARY.match(line)
        if summary:
            outcome.completed = True
            found = {word.rstrip("s"): int(n) for n, word in _PYTEST_COUNT.findall(summary[1])}
            counts = outcome.counts
            counts.passed = found.get("passed", 0) + found.get("xfailed", 0)
            counts.failed = found.get("failed", 0) + found.get("xpassed", 0)
            counts.errors = found.get("error", 0)
            counts.skipped = found.get("skipped", 0)
            counts.ran = counts.passed + counts.failed + counts.errors + counts.skipped
    return outcome


PARSERS = {"unittest": parse_unittest, "pytest": parse_pytest}
