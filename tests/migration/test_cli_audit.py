"""``pynenc-celery audit``: the tables, the JSON document, the flags and the exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pynenc_celery_compat.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
DJANGO = FIXTURES / "audit_django"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["audit", *args])


def test_tables_per_feature_and_summary() -> None:
    result = run(str(DJANGO))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "pynenc-celery audit: 12 Python files, 8 use Celery; 132 uses: 107 supported, "
        "22 supported with a difference, 3 not supported"
    )
    headings = [line for line in lines if line.startswith("== ")]
    assert headings == [
        "== imports (18) ==",
        "== app (5) ==",
        "== settings (12) ==",
        "== decorators (24) ==",
        "== calling (22) ==",
        "== canvas (12) ==",
        "== results (16) ==",
        "== signals (3) ==",
        "== beat (12) ==",
        "== testing (8) ==",
        "== summary by module ==",
    ]
    row = next(line for line in lines if f"proj{'/'}celery.py:12" in line and "@app.task " in line)
    assert row.split()[2:4] == ["difference", "on"]
    assert row.endswith("[differences.md#the-app-stays-on-celery]")
    solar = next(line for line in lines if "solar()" in line)
    assert "NOT SUPPORTED" in solar and solar.endswith("[mapping.md#beat]")
    summary = lines[lines.index("== summary by module ==") + 1 :]
    settings = next(line for line in summary if "settings.py" in line)
    assert settings.split()[0] == "blocked"
    assert "by: beat_schedule['sunset-lights']: solar() (line 24)" in settings
    billing = next(line for line in summary if "billing" in line)
    assert billing.startswith("  can switch now") and billing.endswith(
        "6 supported, 1 with a difference"
    )
    assert lines[-1] == (
        "modules using Celery: 8; can switch now: 6; blocked: 2; could not be read: 0"
    )


def test_json_document() -> None:
    result = run(str(DJANGO), "--json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert set(document) == {"tool", "version", "findings", "modules", "counts", "errors"}
    assert document["counts"] == {
        "files": 12,
        "modules_using_celery": 8,
        "can_switch_now": 6,
        "blocked": 2,
        "errors": 0,
        "findings": 132,
        "supported": 107,
        "supported_with_a_difference": 22,
        "not_supported": 3,
    }
    finding = document["findings"][0]
    assert set(finding) == {
        "path",
        "line",
        "column",
        "feature",
        "api",
        "support",
        "reason",
        "section",
    }
    assert {f["support"] for f in document["findings"]} == {
        "supported",
        "supported with a difference",
        "not supported",
    }
    signals = next(m for m in document["modules"] if m["path"].endswith("signals.py"))
    assert signals == {
        "path": str(DJANGO / "shop" / "signals.py"),
        "status": "blocked",
        "supported": 4,
        "supported_with_a_difference": 1,
        "not_supported": 1,
        "blocked_by": [
            {
                "line": 18,
                "api": "setup_logging.connect",
                "reason": signals["blocked_by"][0]["reason"],
                "section": "migration_guide/mapping.md#signals",
            }
        ],
        "error": None,
    }
    assert document["errors"] == []


def test_exit_0_when_everything_is_supported() -> None:
    result = run(str(DJANGO / "billing"), str(DJANGO / "shop" / "tasks.py"))
    assert result.exit_code == 0, result.output
    assert "can switch now: 2; blocked: 0" in result.output


def test_a_file_that_does_not_parse_exits_1() -> None:
    result = run(str(FIXTURES / "audit_broken"), "--json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["errors"] == [
        {
            "path": str(FIXTURES / "audit_broken" / "broken.py"),
            "error": "does not parse: line 5: invalid syntax",
        }
    ]
    assert document["counts"]["not_supported"] == 0
    statuses = {Path(m["path"]).name: m["status"] for m in document["modules"]}
    assert statuses == {"broken.py": "error", "good.py": "can switch now"}


def test_a_path_that_does_not_exist_is_a_usage_error() -> None:
    result = run(str(DJANGO), "no/such/place")
    assert result.exit_code == 2
    assert "no such file or directory: 'no/such/place'" in result.output


def test_exclude_and_no_tests() -> None:
    everything = json.loads(run(str(DJANGO), "--json").output)["counts"]["files"]
    without_tests = json.loads(run(str(DJANGO), "--json", "--no-tests").output)
    assert without_tests["counts"]["files"] == everything - 3
    assert not any(f["feature"] == "testing" for f in without_tests["findings"])
    excluded = run(str(DJANGO), "--json", "--exclude", "shop/*", "--exclude", "settings.py")
    paths = {
        Path(m["path"]).relative_to(DJANGO).as_posix()
        for m in json.loads(excluded.output)["modules"]
    }
    assert paths == {"billing/tasks.py", "proj/celery.py"}
    assert excluded.exit_code == 0


def test_show_unsupported_lists_only_what_blocks() -> None:
    result = run(str(DJANGO), "--show", "unsupported")
    rows = [line for line in result.output.splitlines() if ".py:" in line]
    assert len(rows) == 3 and all("NOT SUPPORTED" in row for row in rows)
    assert "== summary by module ==" in result.output


def test_the_command_is_listed_and_imports_nothing_until_it_runs() -> None:
    assert "audit" in CliRunner().invoke(cli, ["--help"]).output
    code = (
        "import sys, pynenc_celery_compat.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('pynenc_celery_compat.migration.') "
        "or m == 'libcst'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_no_python_files_is_a_usage_error(tmp_path: Path) -> None:
    """An empty folder, or one without Python files, would pass a CI gate silently."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# docs\n")
    for folder in ("empty", "docs"):
        result = run(str(tmp_path / folder))
        assert result.exit_code == 2, result.output
        assert "no Python files" in result.output
    result = run(str(DJANGO), "--exclude", "*.py")
    assert result.exit_code == 2 and "no Python files" in result.output


def test_files_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("from celery import shared_task\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02celery\x00")
    (tmp_path / "latin.py").write_bytes(b"from celery import shared_task\nx = '\xe9'\n")
    (tmp_path / "declared.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nfrom celery import shared_task\nx = '\xe9'\n"
    )
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "again").symlink_to(tmp_path / "loop")
    result = run(str(tmp_path), "--json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    errors = {Path(e["path"]).name: e["error"] for e in document["errors"]}
    assert set(errors) == {"binary.py", "latin.py"}  # a dangling link is no file: skipped
    assert errors["binary.py"] == "does not parse: source code string cannot contain null bytes"
    assert errors["latin.py"].startswith("does not parse: line 2: (unicode error) 'utf-8' codec")
    assert {Path(m["path"]).name for m in document["modules"]} >= {"good.py", "declared.py"}


def test_a_narrow_terminal_gets_wrapped_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the reason goes under the row, fitted to its width (a path longer
    than the terminal stays whole); piped, each use stays on one line (for grep)."""
    from pynenc_celery_compat.migration.audit import audit_paths
    from pynenc_celery_compat.migration.report import text

    monkeypatch.chdir(DJANGO)
    report = audit_paths(["."])
    piped = text(report).splitlines()
    wrapped = text(report, width=80).splitlines()
    assert max(len(line) for line in piped) > 200
    assert max(len(line) for line in wrapped) <= 80
    assert len(wrapped) > len(piped)
    row = next(i for i, line in enumerate(wrapped) if "solar()" in line and "NOT" in line)
    assert wrapped[row].split()[-2:] == ["NOT", "SUPPORTED"]
    assert wrapped[row + 1].startswith("      solar schedules are not supported")


def test_the_summary_groups_a_blockers_lines(tmp_path: Path) -> None:
    (tmp_path / "views.py").write_text(
        "from celery import current_app as app\n\n"
        "def a():\n    return app.control.ping()\n\n"
        "def b():\n    return app.control.ping(), app.control.inspect()\n"
    )
    result = run(str(tmp_path))
    line = next(line for line in result.output.splitlines() if line.startswith("  blocked"))
    assert line.endswith("by: app.control.ping() (lines 4, 7), app.control.inspect() (line 7)")
