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
