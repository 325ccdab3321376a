"""``samples/triggers_demo``: the demo runs as ``make demo`` runs it, every trigger fires as
it prints, and ``tasks.py`` is ``tasks_original.py`` with lines added, none changed."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "samples" / "triggers_demo"


def test_triggers_demo_runs_every_kind_in_seconds() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=DEMO, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "triggers demo OK" in out
    # spring forward in Madrid: the 02:30 job runs once, at the first minute after the gap
    assert out.count("cron at 2025-03-30T03:00:00+02:00") == 1
    assert "-> 'mail sent: parcel-A-1 is on its way'" in out
    assert "-> 'finance alerted: order B-2: 900 is over the card limit'" in out
    assert "T-9" not in out  # the test order was filtered out
    summary = "all of: status: nightly_backup"  # "and": the backup's success and the event
    assert summary in out and "event 'warehouse.closed'" in out


def test_tasks_module_only_adds_to_the_original() -> None:
    original = (DEMO / "tasks_original.py").read_text().splitlines()
    migrated = (DEMO / "tasks.py").read_text().splitlines()
    removed = [
        line[1:]
        for line in difflib.unified_diff(original, migrated, lineterm="", n=0)
        if line.startswith("-") and not line.startswith("---")
    ]
    docstring_end = original.index(next(line for line in original[1:] if '"""' in line))
    docstring = [line for line in original[: docstring_end + 1] if line]
    assert [line for line in removed if line] == docstring  # nothing else is removed
