"""QA of the ``pynenc-celery migrate`` command on awkward trees: read-only files, a report
path that cannot be written, one file reached twice, Python the running interpreter cannot
parse."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pynenc_celery_compat.cli import cli
from pynenc_celery_compat.migration.rewrite import (
    MigrationError,
    migrate_file,
    migrate_source,
    write_file,
)

TASKS = "from celery import shared_task\n\n@shared_task\ndef add(x, y):\n    return x + y\n"
MIGRATED = TASKS.replace("from celery", "from pynenc_celery_compat")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["migrate", *args], catch_exceptions=False)


def test_a_read_only_file_is_not_replaced(tmp_path: Path) -> None:
    # os.replace needs only the folder to be writable: without a check the rewrite would
    # replace a file its owner made read-only (generated or vendored code)
    tasks = tmp_path / "tasks.py"
    tasks.write_text(TASKS)
    tasks.chmod(0o444)
    with pytest.raises(MigrationError, match=r"tasks\.py: read-only.*--exclude"):
        write_file(migrate_file(tasks))
    assert tasks.read_text() == TASKS
    result = run(str(tmp_path), "--write")
    assert result.exit_code == 1
    assert "read-only" in result.stderr
    assert tasks.read_text() == TASKS
    assert stat.S_IMODE(tasks.stat().st_mode) == 0o444


def test_an_html_report_that_cannot_be_written_stops_before_any_file_is(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.py"
    tasks.write_text(TASKS)
    result = run(str(tmp_path), "--write", "--html", str(tmp_path / "missing" / "report.html"))
    assert result.exit_code == 2
    assert "missing" in result.output and "does not exist" in result.output
    assert tasks.read_text() == TASKS


def test_one_file_reached_by_two_spellings_is_migrated_once(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    tasks = tmp_path / "proj" / "tasks.py"
    tasks.write_text(TASKS)
    (tmp_path / "proj" / "alias.py").symlink_to(tasks)
    other = tmp_path / "proj" / ".." / "proj" / "tasks.py"
    result = run(str(tmp_path / "proj"), str(other), "--write")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("rewrote") == 1
    assert "1 of 1 file changed" in result.stdout
    assert tasks.read_text() == MIGRATED


def test_a_folder_named_like_a_module_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "odd.py").mkdir()
    (tmp_path / "tasks.py").write_text(TASKS)
    result = run(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 of 1 file would change" in result.stdout


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 parses PEP 695 syntax")
def test_syntax_newer_than_the_interpreter_names_the_python_version() -> None:
    with pytest.raises(MigrationError) as raised:
        migrate_source("type Alias = int\nfrom celery import shared_task\n", path="new.py")
    message = str(raised.value)
    assert message.startswith("new.py:1: cannot parse")
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in message
    assert "the Python version the project runs on" in message


def test_a_read_only_folder_is_reported_not_a_crash(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "tasks.py").write_text(TASKS)
    folder.chmod(0o555)
    try:
        result = run(str(folder), "--write")
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 1
    assert "tasks.py" in result.stderr


def test_a_symbolic_link_loop_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tasks.py").write_text(TASKS)
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path)
    result = run(str(tmp_path), "--write")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("rewrote") == 1
    assert (tmp_path / "pkg" / "tasks.py").read_text() == MIGRATED


def test_tabs_and_form_feeds_survive() -> None:
    source = (
        "if True:\n\tfrom celery import shared_task, Celery\n"
        "\x0c\n\t@shared_task\n\tdef f():\n\t\tpass\n"
    )
    rewrite = migrate_source(source, path="tabs.py")
    assert rewrite.migrated == source.replace(
        "\tfrom celery import shared_task, Celery\n",
        "\tfrom celery import Celery\n\tfrom pynenc_celery_compat import shared_task\n",
    )


def test_a_form_feed_before_code_is_refused_rather_than_dropped() -> None:
    # libcst parses "\x0cimport os" but prints "import os": the rewrite would lose it
    source = "import os\nfrom celery import shared_task\n\x0cdef f():\n    pass\n"
    with pytest.raises(MigrationError, match=r"^ff\.py:3: cannot parse: a form feed starts"):
        migrate_source(source, path="ff.py")
