"""``pynenc-celery audit``: the tables, the JSON document, the flags and the exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
        "21 supported with a difference, 4 not supported"
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
        "modules using Celery: 8; can switch now: 5; blocked: 3; could not be read: 0"
    )


def test_json_document() -> None:
    result = run(str(DJANGO), "--json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert set(document) == {"tool", "version", "findings", "modules", "counts", "errors"}
    assert document["counts"] == {
        "files": 12,
        "modules_using_celery": 8,
        "can_switch_now": 5,
        "blocked": 3,
        "errors": 0,
        "findings": 132,
        "supported": 107,
        "supported_with_a_difference": 21,
        "not_supported": 4,
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
    assert len(rows) == 4 and all("NOT SUPPORTED" in row for row in rows)
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
