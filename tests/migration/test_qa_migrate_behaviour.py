"""A realistic Celery module migrated with ``pynenc-celery migrate --write``: it still
imports, its tasks run eagerly and on the compat test worker (as compat tasks), and what
stayed on Celery still catches and matches what Celery code raises and makes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pynenc_celery_compat.cli import cli

FIXTURE = Path(__file__).parent / "fixtures" / "realistic"


def check(folder: Path, mode: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "check.py", mode],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.integration
def test_the_migrated_billing_module_runs_eagerly_and_on_the_compat_worker(tmp_path: Path) -> None:
    copy = tmp_path / "realistic"
    shutil.copytree(FIXTURE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert "compat tasks: False" in check(copy, "eager")

    result = CliRunner().invoke(cli, ["migrate", str(copy / "billing"), "--write"])
    assert result.exit_code == 0, result.output
    migrated = (copy / "billing" / "tasks.py").read_text()
    assert "from celery import Task  # noqa: F401\n" in migrated
    assert "from pynenc_celery_compat import group, shared_task, states  # noqa: F401\n" in (
        migrated
    )
    assert "TimeoutError as CeleryTimeoutError" in migrated.split("pynenc_celery_compat.exc")[0]
    # GroupResult is used in an isinstance check: Celery's class matches both worlds
    assert "from celery.result import GroupResult\n" in migrated
    assert "from pynenc_celery_compat.result import AsyncResult\n" in migrated
    assert "@pynenc_celery_compat.shared_task(bind=True" in migrated
    assert (copy / "billing" / "celery_app.py").read_text() == (
        FIXTURE / "billing" / "celery_app.py"
    ).read_text()

    assert "compat tasks: True" in check(copy, "eager")
    assert "compat tasks: True" in check(copy, "compat")
