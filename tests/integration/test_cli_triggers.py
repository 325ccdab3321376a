"""``pynenc triggers``, ``pynenc triggers emit`` and what ``pynenc status`` says of a
triggered invocation, against a real runner process on SQLite and Redis.

The task module (``tests/apps/cli_triggers.py``) reads its trigger clock from the state
backend, so the test moves time on for the runner and the CLI alike; its timezone is
Europe/Madrid, whose clocks go forward on 2025-03-30 at 02:00.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from pynenc.cli.main import cli
from tests.apps import cli_triggers
from tests.integration.deployments import ROOT, Deployment, RunnerProcess, wait_until
from tests.servers import Server

APP = "tests.apps.cli_triggers:app"
MADRID = ZoneInfo("Europe/Madrid")
#: the fake time the test starts at: Saturday 2025-03-29 12:00:30 CET (UTC+1)
T0 = dt.datetime(2025, 3, 29, 12, 0, 30, tzinfo=MADRID).timestamp()


def _deployment(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url())


def _cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, *args],
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _listing(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """``pynenc triggers --json``, by task name."""
    done = _cli(deployment, "triggers", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["app"] == "tests-cli-triggers"
    assert document["timezone"] == "Europe/Madrid"
    return {t["task"].rpartition(".")[2]: t for t in document["triggers"]}


def _emit(deployment: Deployment, code: str, payload: str | None = None) -> str:
    args = ["triggers", "emit", code] + ([] if payload is None else ["--payload", payload])
    done = _cli(deployment, *args)
    assert done.returncode == 0, done.stderr
    event_id = done.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", event_id), done.stdout
    return event_id


def _fired(task: str) -> int:
    found = [s for s in cli_triggers.app.trigger.status() if s.definition.task_key.endswith(task)]
    return found[0].fired


def _block(out: str, task: str) -> list[str]:
    """The lines ``pynenc triggers`` prints for the trigger of ``task``."""
    blocks = out.split("\n\n")
    found = [b for b in blocks if b.startswith(f"tests.apps.cli_triggers.{task}@")]
    assert len(found) == 1, out
    return found[0].splitlines()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_triggers_listed_emitted_and_shown_in_status(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment(kind, tmp_path, request)
    app = deployment.configure(cli_triggers.app)
    app.purge()
    cli_triggers.set_clock(T0)

    before = _listing(deployment)  # no runner yet: nothing seen, due times counted from now
    assert len(before) == 7
    assert not any(t["seen"] for t in before.values())
    assert before["every_minute"]["next_due_local"] == "2025-03-29T12:01:00.000+01:00"
    # the next 03:00 is the first hour of summer time
    assert before["at_three"]["next_due_local"] == "2025-03-30T03:00:00.000+02:00"
    assert before["at_three"]["next_due_utc"] == "2025-03-30T01:00:00.000+00:00"
    assert before["ship"]["next_due"] is None
    unseen = _cli(deployment, "triggers")
    assert "  not seen    by a runner yet (the due time is counted from now)" in (
        _block(unseen.stdout, "every_minute")
    )
    assert "not seen" not in "\n".join(_block(unseen.stdout, "ship"))  # nothing to see yet
    assert "Note: a time trigger 'not seen' has not been evaluated by a runner yet" in (
        unseen.stderr
    )

    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log", app_ref=APP)
    runner.start()
    try:
        wait_until(
            lambda: all(s.seen for s in app.trigger.status() if s.definition.has_time),
            60,
            "the runner's first trigger pass",
        )
        cli_triggers.set_clock(T0 + 40)  # 12:01:10: the 12:01 occasion is due
        wait_until(lambda: _fired("every_minute") == 1, 60, "the cron trigger to fire")

        paid = _emit(deployment, "order.paid", '{"order": 7, "amount": 500}')
        _emit(deployment, "order.paid", '{"order": 8, "amount": 5}')  # filtered out
        broken = _emit(deployment, "broken", "null")
        left = _emit(deployment, "left")
        right = _emit(deployment, "right", '"r"')
        added = cli_triggers.add(1, 2)
        assert added.result == 3
        wait_until(
            lambda: all(_fired(t) == 1 for t in ("ship", "after_add", "both_sides")),
            60,
            "the event, outcome and 'and' triggers to fire",
        )
        wait_until(
            lambda: all(
                s.last_error for s in app.trigger.status() if s.definition.task_key.endswith("runs")
            ),
            60,
            "the failing provider's error",
        )
        fired = {s.definition.task_key: s.last_invocation for s in app.trigger.status()}
        for invocation_id in fired.values():
            if invocation_id:
                app.orchestrator.wait_final(invocation_id, 60)

        nobody = _cli(deployment, "triggers", "emit", "nobody.listens")
        assert nobody.returncode == 0, nobody.stderr
        assert re.fullmatch(r"[0-9a-f]{32}\n", nobody.stdout)
        assert "no trigger of app 'tests-cli-triggers' listens for event 'nobody.listens'" in (
            nobody.stderr
        )
        assert "order.paid" in nobody.stderr  # the codes that are listened for
    finally:
        assert runner.stop() == 0, runner.log_tail()

    listed = _listing(deployment)
    minute = listed["every_minute"]
    assert (minute["fired"], minute["seen"], minute["last_error"]) == (1, True, None)
    assert minute["last_fired"] == T0 + 40
    assert minute["last_fired_local"] == "2025-03-29T12:01:10.000+01:00"
    assert minute["last_fired_utc"] == "2025-03-29T11:01:10.000+00:00"
    assert minute["last_invocation"].startswith("trg-")
    assert minute["last_invocation_status"] == "SUCCESS"
    assert minute["next_due_local"] == "2025-03-29T12:02:00.000+01:00"
    assert minute["conditions"] == [
        {"kind": "cron", "description": "cron '* * * * *'", "expression": "* * * * *",
         "day_and": False}
    ]  # fmt: skip
    assert listed["at_three"]["fired"] == 0 and listed["at_three"]["seen"]
    assert listed["hourly"]["next_due"] == pytest.approx(T0 + 3600)  # from its first sighting
    ship = listed["ship"]
    assert (ship["fired"], ship["last_invocation_status"]) == (1, "SUCCESS")
    assert ship["provider"] == "tests.apps.cli_triggers:order_of"
    assert ship["conditions"][0]["payload_filter"] == "tests.apps.cli_triggers:is_large"
    assert ship["next_due"] is None and ship["next_due_utc"] is None
    assert listed["after_add"]["arguments"] == {"note": "added"}
    assert listed["both_sides"]["logic"] == "and"
    assert listed["both_sides"]["description"] == "event 'left' and event 'right'"
    failing = listed["never_runs"]
    assert failing["fired"] == 0 and failing["last_invocation"] is None
    assert failing["last_error"] == "RuntimeError: no arguments for event broken"

    human = _cli(deployment, "triggers")
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith(
        "7 trigger(s) of app 'tests-cli-triggers' (times in Europe/Madrid and UTC; now "
        "2025-03-29 12:01:10 CET = 2025-03-29T11:01:10.000+00:00)"
    )
    block = _block(human.stdout, "every_minute")
    assert block[1:] == [
        "  task        tests.apps.cli_triggers.every_minute",
        "  when        cron '* * * * *'",
        "  logic       or: fires on each condition met",
        "  next due    2025-03-29 12:02:00 CET = 2025-03-29T11:02:00.000+00:00 (in 50s)",
        "  last fired  2025-03-29 12:01:10 CET = 2025-03-29T11:01:10.000+00:00 (0.0s ago)",
        f"  invocation  {minute['last_invocation']} (SUCCESS)",
        "  fired       1",
    ]
    # 03:00 CEST is 13h58m50s after 12:01:10 CET (an hour of the night is skipped)
    due = "  next due    2025-03-30 03:00:00 CEST = 2025-03-30T01:00:00.000+00:00 (in 13h58m)"
    assert due in _block(human.stdout, "at_three")
    assert "  next due    - (not time-based: fires on events or task outcomes)" in (
        _block(human.stdout, "ship")
    )
    assert "  last error  RuntimeError: no arguments for event broken" in (
        _block(human.stdout, "never_runs")
    )
    assert "not seen" not in human.stdout

    shown = _status_lines(deployment, minute["last_invocation"])
    trigger_id = minute["trigger_id"]
    assert (
        f"triggered   by {trigger_id}: cron occasion 2025-03-29 12:01:00 CET = "
        "2025-03-29T11:01:00.000+00:00"
    ) in shown
    assert f"triggered   by {ship['trigger_id']}: event 'order.paid' (id {paid})" in (
        _status_lines(deployment, ship["last_invocation"])
    )
    outcome = listed["after_add"]
    assert (
        f"triggered   by {outcome['trigger_id']}: invocation {added.invocation_id} "
        f"of {cli_triggers.add.task_id.key} ended SUCCESS"
    ) in _status_lines(deployment, outcome["last_invocation"])
    pair = listed["both_sides"]
    lines = _status_lines(deployment, pair["last_invocation"])
    start = lines.index(f"triggered   by {pair['trigger_id']} once each condition was met:")
    assert lines[start + 1 : start + 3] == [
        f"  - event 'left' (id {left})",
        f"  - event 'right' (id {right})",
    ]
    assert broken not in human.stdout  # an event id is not a trigger's state
    app.reset_components()


def _status_lines(deployment: Deployment, invocation_id: str) -> list[str]:
    done = _cli(deployment, "status", invocation_id)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


# -- in this process (memory://): what needs no runner ------------------------------------


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_an_app_without_triggers() -> None:
    code, out, _ = _invoke("--app", "tests.apps.core:app", "triggers")
    assert code == 0
    assert out.startswith("No triggers in app 'tests-core'")
    code, out, _ = _invoke("--app", "tests.apps.core:app", "triggers", "--json")
    assert code == 0
    assert json.loads(out)["triggers"] == []


def test_emit_refuses_a_payload_that_is_not_json() -> None:
    code, _, err = _invoke("--app", APP, "triggers", "emit", "order.paid", "--payload", "{7}")
    assert code == 2
    assert "'--payload'" in err and "is not JSON" in err and "--payload '\"text\"'" in err


def test_emit_refuses_an_empty_code() -> None:
    code, _, err = _invoke("--app", APP, "triggers", "emit", "")
    assert code == 2  # a usage error, told before any warning
    assert "an event code is a non-empty string" in err
    assert "Warning" not in err


def test_emit_needs_the_app() -> None:
    code, _, err = _invoke("triggers", "emit", "x")
    assert code == 2
    assert "Missing option '--app'" in err
