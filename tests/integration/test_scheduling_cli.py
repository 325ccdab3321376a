"""``pynenc status`` and ``pynenc invocations`` show scheduled work and its due time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pynenc import InvocationExpiredError
from tests.apps import scheduling as tasks
from tests.integration.deployments import ROOT, Deployment, assert_due_shown, wait_until

APP = "tests.apps.scheduling:app"


def _cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, *args],
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_and_invocations_show_scheduled_work(tmp_path: Path) -> None:
    deployment = Deployment("sqlite", f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    app = deployment.configure(tasks.app)
    try:
        later = tasks.started_at.with_options(delay=600, priority=6, expires=900)("cli")
        now = tasks.started_at("now")
        before = time.time()
        shown = _cli(deployment, "status", later.invocation_id)
        after = time.time()
        assert shown.returncode == 0, shown.stderr
        head = shown.stdout.split("history:")[0].splitlines()
        lines = dict(line.split(None, 1) for line in head)
        assert lines["status"] == "SCHEDULED"
        record = app.state_backend.get(later.invocation_id)
        assert record is not None and record.due is not None
        assert record.due - before <= 600  # due 10 minutes after the call, made before
        assert_due_shown(lines["due"], record.due, before, after)
        assert "expires" in lines and lines["priority"] == "6"
        assert "SCHEDULED" in shown.stdout.split("history:")[1]
        assert "will not run" not in shown.stdout

        # cancelled while SCHEDULED: its due time is shown as one that never comes
        dropped = tasks.started_at.with_options(delay=600)("dropped")
        assert dropped.cancel().cancelled
        shown = _cli(deployment, "status", dropped.invocation_id)
        assert shown.returncode == 1, shown.stderr
        due = next(line for line in shown.stdout.splitlines() if line.startswith("due"))
        assert due.endswith("— it will not run"), shown.stdout
        assert "CANCELLED" in shown.stdout

        listed = _cli(deployment, "invocations")
        assert listed.returncode == 0, listed.stderr
        header, *rows = listed.stdout.splitlines()
        assert header.split() == ["INVOCATION", "TASK", "STATUS", "QUEUE", "AGE", "DUE"]
        by_id = {row.split()[0]: row.split() for row in rows}
        assert by_id[later.invocation_id][2] == "SCHEDULED"
        assert by_id[later.invocation_id][-2] == "in"
        assert by_id[now.invocation_id][2] == "REGISTERED"
        assert len(by_id[now.invocation_id]) == 5  # no due time

        # an expired invocation: status says so and exits 1, like a failure
        expired = tasks.started_at.with_options(expires=0.05)("too late")
        record = app.orchestrator.get_record(expired.invocation_id)
        expires = record.expires
        assert expires is not None
        wait_until(lambda: time.time() > expires, 10, "the expiry")
        envelope = app.orchestrator.envelope_for(record)
        assert app.orchestrator.claim_each([envelope], "test-runner") != [None]
        with pytest.raises(InvocationExpiredError):
            expired.get_result(timeout=10)
        shown = _cli(deployment, "status", expired.invocation_id)
        assert shown.returncode == 1, shown.stderr
        assert "EXPIRED" in shown.stdout and "not started before its expiry" in shown.stdout
    finally:
        app.reset_components()
