"""``pynenc-celery migrate``: the modes, the files it takes, exit statuses, and the whole run
on the ``imports`` fixture codebase, whose own tests pass again after the migration."""

from __future__ import annotations

import ast
import io
import os
import shutil
import subprocess
import sys
import tokenize
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pynenc_celery_compat.cli import cli

FIXTURE = Path(__file__).parent / "fixtures" / "imports"

TASKS = "from celery import shared_task, Celery\n\n@shared_task\ndef add(x, y):\n    return x + y\n"
TASKS_MIGRATED = (
    "from celery import Celery\nfrom pynenc_celery_compat import shared_task\n\n"
    "@shared_task\ndef add(x, y):\n    return x + y\n"
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["migrate", *args], catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "tasks.py").write_text(TASKS)
    (tmp_path / "proj" / "app.py").write_text("from celery import Celery\napp = Celery('p')\n")
    (tmp_path / "proj" / "util.py").write_text("import os\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_tasks.py").write_text(TASKS)
    return tmp_path


def test_a_dry_run_summarises_and_writes_nothing(project: Path) -> None:
    result = run(str(project))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:4] == [
        f"would rewrite {project}/proj/tasks.py",
        "  line 1    moved  shared_task  celery -> pynenc_celery_compat",
        "  line 1    kept   Celery       celery: the app class stays on Celery while modules "
        "migrate; --include-app moves it",
        "",
    ]
    assert f"{project}/proj/app.py: Celery (line 1: the app class stays" in result.stdout
    assert "1 of 3 files would change (1 name moved, 2 kept)." in result.stdout
    assert "Left 1 test file alone (--include-tests migrates them too)." in result.stdout
    assert "run again with --write" in result.stdout
    assert (project / "proj" / "tasks.py").read_text() == TASKS


def test_diff_prints_a_patch_on_stdout_and_the_summary_on_stderr(project: Path) -> None:
    result = run(str(project / "proj"), "--diff")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        f"--- a/{str(project).lstrip('/')}/proj/tasks.py\n"
        f"+++ b/{str(project).lstrip('/')}/proj/tasks.py\n"
    )
    assert "-from celery import shared_task, Celery\n+from celery import Celery\n" in result.stdout
    assert "would change" not in result.stdout
    assert "1 of 3 files would change" in result.stderr


def test_side_by_side_prints_columns(project: Path) -> None:
    result = run(str(project / "proj"), "--side-by-side")
    assert result.exit_code == 0
    assert f"{project}/proj/tasks.py" in result.stdout
    assert "original" in result.stdout and "migrated" in result.stdout
    assert "\x1b[" not in result.stdout  # colours only on a terminal


def test_write_rewrites_in_place_and_a_second_run_has_nothing_to_do(project: Path) -> None:
    result = run(str(project), "--write")
    assert result.exit_code == 0
    assert f"rewrote {project}/proj/tasks.py: 1 moved, 1 kept on Celery" in result.stdout
    assert "1 of 3 files changed" in result.stdout
    assert (project / "proj" / "tasks.py").read_text() == TASKS_MIGRATED
    assert (project / "tests" / "test_tasks.py").read_text() == TASKS  # a test file
    again = run(str(project), "--write")
    assert again.exit_code == 0
    assert "rewrote" not in again.stdout
    assert "0 of 3 files changed" in again.stdout


def test_html_writes_the_report_beside_any_mode(project: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = run(str(project / "proj"), "--write", "--html", str(report))
    assert result.exit_code == 0
    page = report.read_text()
    assert "proj/tasks.py" in page and "proj/app.py" not in page
    assert f"wrote the HTML report to {report}" in result.stderr


def test_test_files_only_with_include_tests_or_named(project: Path) -> None:
    result = run(str(project), "--write", "--include-tests")
    assert (project / "tests" / "test_tasks.py").read_text() == TASKS_MIGRATED
    assert "Left" not in result.stdout
    (project / "tests" / "test_tasks.py").write_text(TASKS)
    run(str(project / "tests" / "test_tasks.py"), "--write")
    assert (project / "tests" / "test_tasks.py").read_text() == TASKS_MIGRATED


def test_exclude_globs(project: Path) -> None:
    result = run(str(project), "--write", "--exclude", "proj/task*", "--exclude", "nothing")
    assert result.exit_code == 0
    assert (project / "proj" / "tasks.py").read_text() == TASKS
    assert "0 of 2 files changed" in result.stdout


def test_include_app_moves_the_app(project: Path) -> None:
    run(str(project / "proj"), "--write", "--include-app")
    assert (
        (project / "proj" / "app.py")
        .read_text()
        .startswith("from pynenc_celery_compat import Celery\n")
    )


def test_a_file_that_does_not_parse_is_reported_and_the_others_are_migrated(
    project: Path,
) -> None:
    broken = project / "proj" / "broken.py"
    broken.write_text("from celery import shared_task\n\ndef f(:\n")
    result = run(str(project / "proj"), "--write")
    assert result.exit_code == 1
    assert f"error: {broken}:3: cannot parse:" in result.stderr
    assert "; 1 could not be migrated" in result.stdout
    assert broken.read_text() == "from celery import shared_task\n\ndef f(:\n"
    assert (project / "proj" / "tasks.py").read_text() == TASKS_MIGRATED


def test_nothing_to_change_is_a_success(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("import os\n")
    result = run(str(tmp_path))
    assert result.exit_code == 0
    assert "0 of 1 file would change" in result.stdout


def test_celerys_broker_to_broker_migrate_is_explained(tmp_path: Path) -> None:
    result = run("amqp://guest@localhost//", "redis://localhost:6379/0")
    assert result.exit_code == 2
    assert "state backend" in result.stderr
    assert "nothing to move" in result.stderr
    assert "rewrites the Celery imports" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/dir"], "no such file or directory: 'no/such/dir'"),
        ([".", "--diff", "--write"], "--diff, --side-by-side and --write are alternatives"),
        ([".", "--forget"], "no such option: --forget"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_the_cli_does_not_import_libcst_until_migrate_runs() -> None:
    code = (
        "import sys, pynenc_celery_compat.cli\n"
        "assert 'libcst' not in sys.modules, 'libcst imported at start'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the fixture codebase, end to end --------------------------------------------------


def comments(source: str) -> Counter[str]:
    """The comments of ``source``, each once (a split import repeats a ``# noqa`` pragma)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    found = Counter(t.string for t in tokens if t.type == tokenize.COMMENT)
    return Counter({c: 1 if c.startswith("# noqa") else n for c, n in found.items()})


def run_fixture_tests(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.integration
def test_the_fixture_codebase_migrates_and_its_tests_pass_on_the_compat_layer(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "imports"
    shutil.copytree(FIXTURE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = {p: p.read_bytes() for p in copy.rglob("*.py")}
    on_celery = run_fixture_tests(copy)
    assert on_celery.returncode == 0, on_celery.stdout + on_celery.stderr

    result = run(str(copy), "--write")
    assert result.exit_code == 0, result.output
    after = {p: p.read_bytes() for p in copy.rglob("*.py")}
    changed = sorted(p.relative_to(copy).as_posix() for p in after if after[p] != before[p])
    assert changed == [
        "shop/celery_app.py",
        "shop/conditional.py",
        "shop/dotted_modules.py",
        "shop/helpers.py",
        "shop/module_alias.py",
        "shop/module_import.py",
        "shop/parenthesised.py",
        "shop/plain.py",
        "shop/submodules.py",
        "shop/windows.py",
    ]
    for path, data in after.items():
        text = data.decode("utf-8-sig")
        ast.parse(text)  # every file parses
        assert comments(text) == comments(before[path].decode("utf-8-sig")), path
    windows = after[copy / "shop" / "windows.py"]
    assert windows.startswith(b"\xef\xbb\xbf") and windows.count(b"\r\n") == windows.count(b"\n")

    again = run(str(copy), "--write")
    assert again.exit_code == 0
    assert "0 of 13 files changed" in again.stdout
    assert {p: p.read_bytes() for p in copy.rglob("*.py")} == after

    on_compat = run_fixture_tests(copy)
    assert on_compat.returncode == 0, on_compat.stdout + on_compat.stderr
    # and the tasks are the compat layer's now (the star import's stay Celery's)
    check = (
        "import pynenc_celery_compat as compat\n"
        "from shop import plain, module_import, module_alias, star, conditional, windows\n"
        "for task in (plain.add, module_import.multiply, module_alias.negate,\n"
        "             conditional.echo, windows.crlf):\n"
        "    assert isinstance(task, compat.Task), task\n"
        "assert not isinstance(star.shout, compat.Task)\n"
    )
    subprocess.run([sys.executable, "-c", check], cwd=copy, check=True, timeout=120)
