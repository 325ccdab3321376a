"""The real-codebase harness's own logic (``bench/realworld``), without network: reading the
test runners' output and ``audit --json``, the tree diff, failure explanations, the report."""

from __future__ import annotations

import json
from pathlib import Path

from bench.realworld.outcomes import ERROR, FAILED, exception_line, parse_pytest, parse_unittest
from bench.realworld.projects import BASELINE, MIGRATED, PROJECTS, RUNNER, Project
from bench.realworld.report import ProjectResult, failures, render, unexplained
from bench.realworld.steps import (
    DIFFERENCE,
    SUPPORTED,
    UNSUPPORTED,
    AuditData,
    AuditResult,
    MigrateResult,
    SuiteRun,
    ToolRun,
    parse_audit_json,
    rating,
    tree_diff,
)

DASHES = "-" * 70
EQUALS = "=" * 70

DJANGO_OUTPUT = f"""Found 4 test(s).
Creating test database for alias 'default'...
test_ok (tests.tests.A.test_ok) ... ok
test_doc (tests.tests.A.test_doc)
A docstring line ... ok
test_bad (tests.tests.B.test_bad) ... FAIL
test_broken (tests.tests.B.test_broken) ... ERROR
test_skip (tests.tests.B.test_skip) ... skipped 'no'

{EQUALS}
ERROR: test_broken (tests.tests.B.test_broken)
{DASHES}
Traceback (most recent call last):
  File "./tests/tests.py", line 9, in test_broken
    open(path)
FileNotFoundError: [Errno 2] No such file or directory: './tests/image.png'

{EQUALS}
FAIL: test_bad (tests.tests.B.test_bad)
What the test checks
{DASHES}
Traceback (most recent call last):
  File "./tests/tests.py", line 5, in test_bad
    self.assertEqual(result.get(), 1)
AssertionError: None != 1

{DASHES}
Ran 5 tests in 0.043s

FAILED (failures=1, errors=1, skipped=1)
Destroying test database for alias 'default'...
"""


def test_unittest_output_counts_and_failing_tests() -> None:
    outcome = parse_unittest(DJANGO_OUTPUT)
    assert outcome.completed
    counts = outcome.counts
    assert (counts.ran, counts.passed, counts.failed, counts.errors, counts.skipped) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert outcome.statuses == {
        "tests.tests.B.test_broken": ERROR,
        "tests.tests.B.test_bad": FAILED,
    }
    assert outcome.reasons["tests.tests.B.test_bad"] == "AssertionError: None != 1"
    assert outcome.reasons["tests.tests.B.test_broken"].startswith("FileNotFoundError: [Errno 2]")


def test_unittest_ok_run_and_older_python_ids() -> None:
    outcome = parse_unittest(f"{DASHES}\nRan 3 tests in 0.1s\n\nOK (skipped=1)\n")
    assert outcome.completed
    assert (outcome.counts.passed, outcome.counts.skipped) == (2, 1)
    older = (
        f"{EQUALS}\nFAIL: test_x (pkg.mod.Case)\n{DASHES}\nTraceback:\nAssertionError\n\n{DASHES}"
    )
    parsed = parse_unittest(older + "\nRan 1 test in 0.0s\n\nFAILED (failures=1)\n")
    assert parsed.statuses == {"pkg.mod.Case.test_x": FAILED}


def test_a_suite_that_never_ran_is_not_completed() -> None:
    crashed = (
        "Traceback (most recent call last):\n  File 'x'\nImportError: no module named 'django'\n"
    )
    assert not parse_unittest(crashed).completed
    assert not parse_pytest(crashed).completed


def test_exception_line_skips_source_lines_and_multiline_messages() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in f\n'
        "    assert x == {'a': 1}\n"
        "           ^^^^^^\n"
        "AssertionError: {'a': 2} != {'a': 1}\n"
        "- {'a': 2}\n"
        "+ {'a': 1}\n"
    )
    assert exception_line(text) == "AssertionError: {'a': 2} != {'a': 1}"


def test_pytest_output() -> None:
    output = (
        "tests/test_a.py .F.sE\n"
        "=========================== short test summary info ============================\n"
        "FAILED tests/test_a.py::test_two - AssertionError: assert 1 == 2\n"
        "ERROR tests/test_a.py::test_five - RuntimeError: no broker\n"
        "=============== 1 failed, 2 passed, 1 skipped, 1 error in 0.12s ================\n"
    )
    outcome = parse_pytest(output)
    assert outcome.completed
    counts = outcome.counts
    assert (counts.ran, counts.passed, counts.failed, counts.errors, counts.skipped) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert outcome.statuses == {
        "tests/test_a.py::test_two": FAILED,
        "tests/test_a.py::test_five": ERROR,
    }
    assert outcome.reasons["tests/test_a.py::test_two"] == "AssertionError: assert 1 == 2"


def test_audit_json_is_read_with_any_rating_spelling() -> None:
    findings = [
        {"path": "p/tasks.py", "line": 3, "support": "supported", "api": "shared_task"},
        {"path": "p/tasks.py", "line": 9, "support": "supported with a difference", "api": "x"},
        {"path": "p/tasks.py", "line": 12, "support": "Support.UNSUPPORTED", "api": "y"},
    ]
    text = "a warning first\n" + json.dumps(
        {"files": ["p/tasks.py", "p/a.py"], "findings": findings, "errors": {}}
    )
    data = parse_audit_json(text)
    assert (data.files, data.errors) == (2, {})
    assert [rating(f) for f in data.findings] == [SUPPORTED, DIFFERENCE, UNSUPPORTED]


def test_audit_json_as_the_command_prints_it() -> None:
    document = {
        "tool": "pynenc-celery audit",
        "findings": [{"path": "p/t.py", "line": 1, "support": "supported"}],
        "modules": [
            {"path": "p/t.py", "status": "can switch now", "blocked_by": [], "error": None},
            {"path": "p/bad.py", "status": "error", "blocked_by": [], "error": "line 3: bad"},
        ],
        "counts": {"files": 7, "findings": 1},
        "errors": 1,
    }
    data = parse_audit_json(json.dumps(document, indent=2))
    assert (data.files, len(data.findings), len(data.modules)) == (7, 1, 2)
    assert data.errors == {"p/bad.py": "line 3: bad"}


def test_tree_diff_lists_changed_python_files_only(tmp_path: Path) -> None:
    before, after = tmp_path / "a", tmp_path / "b"
    for root in (before, after):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "same.py").write_text("x = 1\n")
        (root / "README").write_text("text\n")
    (before / "pkg" / "tasks.py").write_text("from celery import shared_task\n")
    (after / "pkg" / "tasks.py").write_text("from pynenc_celery_compat import shared_task\n")
    (after / "README").write_text("changed\n")
    diffs = tree_diff(before, after)
    assert list(diffs) == ["pkg/tasks.py"]
    assert "-from celery import shared_task" in diffs["pkg/tasks.py"]
    assert "+from pynenc_celery_compat import shared_task" in diffs["pkg/tasks.py"]


PROJECT = Project(
    name="demo-project",
    version="1.0",
    package="demo",
    deps=("django==4.2.30",),
    test_command=("-m", "unittest"),
    runner="unittest",
    uses="`shared_task`",
    explanations={RUNNER: {"tests.tests.B.test_bad": "eager-only: ignore_result"}},
)


def _run(pass_name: str, output: str) -> SuiteRun:
    return SuiteRun(pass_name, ["python"], 1, 0.5, parse_unittest(output), output)


def _result() -> ProjectResult:
    ok = f"{DASHES}\nRan 5 tests in 0.1s\n\nOK\n"
    audit = AuditResult(
        ToolRun(["pynenc-celery", "audit"], 1, 0.4, ""),
        AuditData(
            files=2,
            modules=[
                {
                    "path": "demo/tasks.py",
                    "status": "blocked",
                    "blocked_by": [{"line": 7, "api": ".apply_async(link=)"}],
                }
            ],
            findings=[
                {"path": "demo/tasks.py", "line": 1, "support": "supported", "api": "shared_task"},
                {
                    "path": "demo/tasks.py",
                    "line": 7,
                    "feature": "calling",
                    "support": "not supported",
                    "api": ".apply_async(link=)",
                    "reason": "no links yet",
                    "section": "migration_guide/mapping.md#calling-options",
                },
            ],
        ),
    )
    migrate = MigrateResult(
        ToolRun(["pynenc-celery", "migrate"], 0, 0.3, ""),
        diffs={"demo/tasks.py": "--- a/demo/tasks.py\n+++ b/demo/tasks.py\n-x\n+y\n"},
        moved=["demo/tasks.py:1 `celery.shared_task` -> `pynenc_celery_compat`"],
    )
    return ProjectResult(
        PROJECT,
        audit=audit,
        migrate=migrate,
        tests={
            BASELINE: _run(BASELINE, ok),
            MIGRATED: _run(MIGRATED, ok),
            RUNNER: _run(RUNNER, DJANGO_OUTPUT),
        },
    )


def test_failures_carry_their_explanation_or_are_open() -> None:
    result = _result()
    found = {f.test_id: f for f in failures(result)}
    assert found["tests.tests.B.test_bad"].reason == "eager-only: ignore_result"
    assert not found["tests.tests.B.test_bad"].failed_before
    assert found["tests.tests.B.test_broken"].reason is None
    assert unexplained([result]) == [
        "demo-project [migrated+runner] tests.tests.B.test_broken: "
        "FileNotFoundError: [Errno 2] No such file or directory: './tests/image.png'"
    ]


def test_report_has_the_figures() -> None:
    text = render([_result()], ["header line"])
    assert text.startswith("# Real Celery codebases")
    assert "| demo-project 1.0 | 2 | 1 | 0 | 1 | 0.40 s | 0.30 s | 1 | 5/5 passed |" in text
    assert "| not supported | 1 |" in text
    assert "modules that can switch now: 0 of 1" in text
    assert "`demo/tasks.py` is blocked by `.apply_async(link=)` (line 7)." in text
    assert "`demo/tasks.py:7` `.apply_async(link=)` (calling): no links yet" in text
    assert "(../../migration_guide/mapping.md#calling-options)" in text
    assert "```diff\n--- a/demo/tasks.py" in text
    assert "| `tests.tests.B.test_bad` | ok | ok | fail | `AssertionError: None != 1` |" in text
    assert "**not investigated**" in text
    assert "## Open points" in text


def test_the_chosen_projects_are_pinned() -> None:
    for project in PROJECTS.values():
        assert project.version and all("==" in dep for dep in project.deps)
        assert project.runner in {"unittest", "pytest"}
