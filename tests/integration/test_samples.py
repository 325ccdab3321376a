"""The demo scripts run as `make demo` runs them, and print what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "samples" / "direct_task_demo"


@pytest.mark.parametrize(
    ("script", "sync", "expected"),
    [
        ("sample_sync.py", True, "sync   OK"),
        ("sample_distributed.py", False, "dist   OK"),
        ("sample_parallel.py", False, "par    OK"),
    ],
)
def test_demo_script(script: str, sync: bool, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    env["DEMO_REPORT_DELAY"] = "0.05"
    if sync:
        env["PYNENC__DEV_MODE_FORCE_SYNC_TASKS"] = "True"
    done = subprocess.run(
        [sys.executable, script], cwd=DEMO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


CELERY_DEMO = DEMO.parent / "celery_migration_demo"


def _clean_env() -> dict[str, str]:
    prefixes = ("PYNENC", "CELERY_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@pytest.mark.timeout(330)
def test_celery_migration_demo_prints_the_same_results() -> None:
    done = subprocess.run(
        [sys.executable, "main.py"],
        cwd=CELERY_DEMO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "celery migration OK" in done.stdout
    assert "DIFFERENT" not in done.stdout


@pytest.mark.timeout(630)
def test_celery_migration_demo_test_module_passes_for_both_modules() -> None:
    """The sample's own test module, in a process of its own: its real ``celery.Celery``
    app becomes Celery's current app at import, which must not leak into this suite."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CELERY_DEMO)],
        cwd=CELERY_DEMO.parents[1],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
