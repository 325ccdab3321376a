"""QA of triggers: exactly once across runner processes when the lease holder dies.

The runners are ``pynenc runner start`` processes of ``tests/apps/qa_triggers.py`` (its
trigger clock is read from the state backend) on SQLite and on Redis (a fresh database).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.apps import qa_triggers
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

APP = "tests.apps.qa_triggers:app"
#: a message a killed runner had taken but not claimed is published again after 3 s
SETTINGS = {
    "heartbeat_interval": "0.2",
    "dead_after": "2",
    "stop_grace": "10",
    "redeliver_after": "3",
}
#: Saturday 2025-03-29 12:00:30 in Madrid (CET)
T0 = dt.datetime(2025, 3, 29, 12, 0, 30, tzinfo=ZoneInfo("Europe/Madrid")).timestamp()


def deployment_for(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "sqlite":
        return Deployment(
            kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db", dict(SETTINGS)
        )
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url(), dict(SETTINGS))


def runner(
    deployment: Deployment, tmp_path: Path, name: str, cls: str = "ThreadRunner"
) -> RunnerProcess:
    return RunnerProcess(deployment, cls, log=tmp_path / f"{name}.log", app_ref=APP).start()


def evaluated() -> bool:
    """Whether a trigger pass has run (it stores the time triggers it sees first)."""
    return all(s.seen for s in qa_triggers.app.trigger.status() if s.definition.has_time)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("what", ["event", "outcome"])
def test_an_occurrence_survives_the_lease_holder_dying_in_the_pass(
    kind: str, what: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The lease holder dies while it fires (here: in the provider, as a kill -9 or an OOM
    kill could end it): the next holder fires what it was firing, once."""
    deployment = deployment_for(kind, tmp_path, request)
    app = deployment.configure(qa_triggers.app)
    app.purge()
    qa_triggers.set_clock(T0)
    app.state_backend.put_value(qa_triggers.ARMED, "crash", "yes")
    first = runner(deployment, tmp_path, "first")
    second = None
    try:
        wait_until(evaluated, 60, "the first runner's trigger pass")
        if what == "event":
            app.trigger.emit_event("qa.fragile", {"order": 7})
            task = "fragile"
        else:
            assert qa_triggers.source(7).result == 7
            task = "fragile_outcome"
        wait_until(lambda: first.process.poll() is not None, 60, "the crash in the provider")
        assert first.process.returncode == 17, first.log_tail()
        second = runner(deployment, tmp_path, "second")
        wait_until(lambda: qa_triggers.runs(task), 60, f"the {what} to fire after the crash")
        wait_until(lambda: _fired(task) == 1, 30, "the pass to store its count")
        assert [run["order"] for run in qa_triggers.runs(task)] == [7]
    finally:
        first.kill()
        if second is not None:
            assert second.stop() == 0, second.log_tail()


def _fired(task: str) -> int:
    statuses = qa_triggers.app.trigger.status()
    return next(s.fired for s in statuses if s.definition.task_key.endswith(f".{task}"))
