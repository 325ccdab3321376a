"""``pynenc workflow list|show|resume|cancel`` against a real runner process, on SQLite
and Redis: workflows pause, are listed and shown (journal, state, children, runs), one is
resumed from the command line and completes, another is cancelled; ``--json`` parses and
stays the same while nothing changes; a bad ``--value`` is refused.

The workflows are in ``tests/apps/wf_cli.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus
from pynenc.exceptions import InvocationCancelledError
from tests.apps import wf_cli
from tests.integration.deployments import ROOT, Deployment, RunnerProcess, wait_until
from tests.servers import Server

APP = "tests.apps.wf_cli:app"
TASK = "tests.apps.wf_cli."
S = InvocationStatus


def _deployment(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url())


def _cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, "workflow", *args],
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _json(deployment: Deployment, *args: str) -> Any:
    done = _cli(deployment, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _rows(out: str) -> list[list[str]]:
    """A printed table's rows, split on runs of two spaces or more (header skipped)."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[1:]]


@pytest.mark.parametrize(
    ("kind", "runner_cls"),
    [("sqlite", "ThreadRunner"), ("redis", "PersistentProcessRunner")],
)
def test_paused_workflows_listed_shown_resumed_and_cancelled(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment(kind, tmp_path, request)
    app = deployment.configure(wf_cli.app)
    app.purge()
    runner = RunnerProcess(deployment, runner_cls, log=tmp_path / "runner.log", app_ref=APP)
    runner.start()
    try:
        approved = wf_cli.approve_order(7)
        refused = wf_cli.approve_order(8)
        counted = wf_cli.count_up(1, 3)
        fanned = wf_cli.fan_out([1, 2, 3])
        sub = f"{fanned.invocation_id}-wf1-2"  # its count_up sub-workflow (step 2)
        ids = [i.invocation_id for i in (approved, refused, counted, fanned)] + [sub]
        wait_until(
            lambda: all(
                (r := app.state_backend.get(inv)) is not None and r.status is S.PAUSED
                for inv in ids
            ),
            120,
            "every workflow to pause",
        )

        # -- list ------------------------------------------------------------------------
        listed = _json(deployment, "list")
        assert listed == _json(deployment, "list")  # stable while nothing changes
        assert listed["app"] == "tests-wf-cli"
        rows = {w["workflow_id"]: w for w in listed["workflows"]}
        assert set(rows) == set(ids)
        assert list(rows[ids[0]]) == [
            "workflow_id", "task", "status", "run", "registered", "registered_utc",
            "paused_reason",
        ]  # fmt: skip
        assert rows[approved.invocation_id]["paused_reason"] == "order 7 needs a human approval"
        assert rows[counted.invocation_id]["run"] == 3
        assert rows[counted.invocation_id]["paused_reason"] == "counted to 3"
        assert rows[sub]["task"] == TASK + "count_up"
        assert {w["status"] for w in listed["workflows"]} == {"PAUSED"}
        newest_first = [w["registered"] for w in listed["workflows"]]
        assert newest_first == sorted(newest_first, reverse=True)

        table = _cli(deployment, "list")
        assert table.returncode == 0, table.stderr
        header = table.stdout.splitlines()[0].split()
        assert header == ["WORKFLOW", "TASK", "STATUS", "RUN", "REGISTERED", "PAUSED", "BECAUSE"]
        by_id = {row[0]: row for row in _rows(table.stdout)}
        assert by_id[counted.invocation_id][1:4] == [TASK + "count_up", "PAUSED", "3"]
        assert by_id[refused.invocation_id][-1] == "order 8 needs a human approval"
        only = _cli(deployment, "list", "--task", TASK + "approve_order", "--limit", "1")
        assert [row[0] for row in _rows(only.stdout)] == [refused.invocation_id]
        assert "--limit shows more" in only.stderr
        done_ones = _cli(deployment, "list", "--status", "success")
        assert done_ones.stdout.startswith("No workflows match for app 'tests-wf-cli'.")

        # -- show ------------------------------------------------------------------------
        shown = _json(deployment, "show", approved.invocation_id)
        assert shown == _json(deployment, "show", approved.invocation_id)
        child = f"{approved.invocation_id}-wf1-3"
        assert list(shown) == [
            "workflow_id", "task", "status", "paused_reason", "parent_id", "parent_status",
            "registered", "registered_utc", "run", "earlier_runs", "earlier_runs_not_kept",
            "state", "journal", "children", "more_children", "history", "result", "error",
        ]  # fmt: skip
        assert (shown["status"], shown["task"], shown["run"]) == (
            "PAUSED",
            TASK + "approve_order",
            1,
        )
        assert shown["paused_reason"] == "order 7 needs a human approval"
        assert [s["op"] for s in shown["journal"]] == [
            "get_state", "random", "execute_task", "save_state", "pause",
        ]  # fmt: skip
        score = shown["journal"][1]["value"]
        assert 0 <= score < 1
        assert shown["journal"][2]["calls"] == [{"invocation_id": child, "status": "SUCCESS"}]
        assert shown["journal"][4] == {
            "step": 5, "op": "pause", "detail": None,
            "reason": "order 7 needs a human approval", "resumed": False, "value": None,
        }  # fmt: skip
        assert shown["state"] == {
            "order": 7, "stage": "checked", "score": round(score, 3), "doubled": 14
        }  # fmt: skip
        assert shown["children"] == [
            {"invocation_id": child, "task": TASK + "double", "status": "SUCCESS"}
        ]
        text = _cli(deployment, "show", approved.invocation_id)
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert "status      PAUSED" in lines
        assert "paused      order 7 needs a human approval" in lines
        assert f"  2  random        {json.dumps(score)}" in lines
        assert f"  3  execute_task  {TASK}double -> {child} (SUCCESS)" in lines
        assert '  5  pause         "order 7 needs a human approval" (paused here)' in lines
        assert '    "doubled": 14' in lines  # the state, pretty

        runs = _json(deployment, "show", counted.invocation_id)
        assert runs["run"] == 3 and [r["run"] for r in runs["earlier_runs"]] == [1, 2]
        assert runs["state"] == {"n": 3}
        fan = _json(deployment, "show", fanned.invocation_id, "--children", "2")
        assert fan["journal"][0]["op"] == "execute_tasks"
        assert [c["status"] for c in fan["journal"][0]["calls"]] == ["SUCCESS"] * 3
        assert fan["journal"][1]["calls"] == [{"invocation_id": sub, "status": "PAUSED"}]
        assert len(fan["children"]) == 2 and fan["more_children"] is True
        assert _json(deployment, "show", sub)["parent_id"] == fanned.invocation_id
        fan_text = _cli(deployment, "show", fanned.invocation_id).stdout
        assert "-> 3 invocations (3 SUCCESS)" in fan_text
        assert f"{TASK}count_up -> {sub} (PAUSED)" in fan_text

        # -- resume ----------------------------------------------------------------------
        bad = _cli(deployment, "resume", approved.invocation_id, "--value", "{approved: yes}")
        assert bad.returncode == 2
        assert "Invalid value for '--value': '{approved: yes}' is not JSON" in bad.stderr
        assert app.state_backend.get(approved.invocation_id).status is S.PAUSED  # type: ignore[union-attr]
        resumed = _cli(deployment, "resume", approved.invocation_id, "--value", '{"ok": true}')
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout.startswith(
            f"Resumed workflow {approved.invocation_id} ({TASK}approve_order): the "
            'wf.pause("order 7 needs a human approval") at step 5 of run 1 returns {"ok": true}.'
        )
        assert approved.result == {"order": 7, "doubled": 14, "decision": {"ok": True}}
        again = _cli(deployment, "resume", approved.invocation_id)
        assert again.returncode == 1
        assert "is SUCCESS, not PAUSED: only a paused workflow can be resumed" in again.stderr
        finished = _json(deployment, "show", approved.invocation_id)
        assert finished["status"] == "SUCCESS" and finished["paused_reason"] is None
        assert finished["journal"][4]["resumed"] is True
        assert finished["journal"][4]["value"] == {"ok": True}
        assert finished["journal"][1]["value"] == score  # replayed, not drawn again
        assert finished["state"]["stage"] == "decided"
        assert finished["result"] == "{'order': 7, 'doubled': 14, 'decision': {'ok': True}}"
        resumed_line = (
            '  5  pause         "order 7 needs a human approval" -> resumed with {"ok": true}'
        )
        assert resumed_line in _cli(deployment, "show", approved.invocation_id).stdout

        # -- cancel ----------------------------------------------------------------------
        cancelled = _cli(deployment, "cancel", refused.invocation_id, "--reason", "no stock")
        assert cancelled.returncode == 0, cancelled.stderr
        assert "(was PAUSED)" in cancelled.stdout
        with pytest.raises(InvocationCancelledError, match="no stock"):
            _ = refused.result
        assert _cli(deployment, "cancel", refused.invocation_id).returncode == 3
        history = app.state_backend.history(refused.invocation_id)
        assert history[-1].runner_id is not None
        assert history[-1].runner_id.startswith("pynenc workflow cancel (")
        assert _json(deployment, "show", refused.invocation_id)["status"] == "CANCELLED"

        # -- not workflows ---------------------------------------------------------------
        plain = _cli(deployment, "show", child)
        assert plain.returncode == 1
        assert f"Invocation {child} ({TASK}double, SUCCESS) is not a workflow" in plain.stderr
        for args in (["show", "nope"], ["resume", "nope"], ["cancel", "nope"]):
            unknown = _cli(deployment, *args)
            assert unknown.returncode == 1
            assert "Invocation nope is not known to the state backend" in unknown.stderr
    finally:
        assert runner.stop() == 0, runner.log_tail()
    app.reset_components()
