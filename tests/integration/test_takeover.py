"""A runner declared dead while alive (paused past ``runner.dead_after``) and resumed.

Another runner takes its invocations over; when the paused runner resumes, it must not run
what it had claimed but not started, must not reroute what it no longer owns, and says so.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.call import Call
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
SETTINGS = {"heartbeat_interval": "0.2", "dead_after": "2", "stop_grace": "10"}
ONE_SLOT = ("--threads", "1", "--processes", "1")
LONG = 20.0  #: the first task: still running when the stale runner resumes


def _runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def _owner(app: Pynenc, invocation_id: str) -> str | None:
    record = app.state_backend.get(invocation_id)
    return record.owner if record is not None else None


@pytest.mark.parametrize("runner_cls", ["ThreadRunner", "ProcessRunner", "PersistentProcessRunner"])
def test_a_runner_declared_dead_while_alive_lets_the_new_owner_have_its_work(
    runner_cls: str, redis_server: Server, tmp_path: Path
) -> None:
    deployment = Deployment(
        "redis",
        redis_server.db_url(),
        redis_server.db_url(),
        SETTINGS,
    )
    app = deployment.configure()
    app.purge()
    counters = [tmp_path / f"runs-{i}" for i in range(3)]
    seconds = [LONG, 1.0, 1.0]
    calls = [
        Call(deploy.count_run, deploy.count_run.args(str(c), s))
        for c, s in zip(counters, seconds, strict=True)
    ]
    stale = RunnerProcess(deployment, runner_cls, *ONE_SLOT, log=tmp_path / "a.log")
    other = RunnerProcess(deployment, "ThreadRunner", "--threads", "3", log=tmp_path / "b.log")
    stale.start()
    try:
        # one message: the stale runner claims all three, runs the first, holds two back
        ids = [i.invocation_id for i in app.orchestrator.route(calls, per_message=3)]
        wait_until(lambda: _runs(counters[0]) == 1, 60, "the first invocation to start")
        stale_id = _owner(app, ids[0])  # the runner, or its worker (named by the runner)
        assert stale.process is not None and f":{stale.process.pid}:" in str(stale_id)
        records = app.state_backend.get_many(ids)
        assert [(r.status, r.owner) if r else None for r in records] == [(S.RUNNING, stale_id)] * 3
        stale.signal(signal.SIGSTOP)  # alive, but silent past dead_after
        other.start()
        done = app.orchestrator.wait_final_many(ids[1:], timeout=60)
        assert [r.status for r in done] == [S.SUCCESS] * 2, other.log_tail()
        wait_until(lambda: _owner(app, ids[0]) not in (None, stale_id), 60, "the takeover")
        stale.signal(signal.SIGCONT)
        # the stale runner resumes while its first task still sleeps; it would start the
        # two it held back once that one ends, if it did not check whom they belong to
        wait_until(
            lambda: sum(map(_runs, counters)) > 4 or stale.log_tail().count("not starting it") == 2,
            60,
            "the stale runner to run or drop the invocations it held back",
        )
        assert f"no longer owns invocation {ids[0]}" in stale.log_tail()
        began = time.monotonic()
        assert stale.stop() == 0, stale.log_tail()
        # its stale task no longer counts as its work: the stop does not wait for it
        assert time.monotonic() - began < LONG / 2, stale.log_tail()
        assert app.orchestrator.wait_final(ids[0], timeout=60).status is S.SUCCESS
    finally:
        stale.signal(signal.SIGCONT)
        codes = (stale.stop(), other.stop())
        app.reset_components()
    log = stale.log_tail()
    assert codes == (0, 0), log
    assert [_runs(c) for c in counters] == [2, 1, 1], log
    assert "another runner took it over" in log
    assert "invocations rerouted" not in log  # its stop found nothing of its own to reroute
    for invocation_id in ids:
        history = app.state_backend.history(invocation_id)
        reroutes = [e for e in history if e.status is S.REROUTED]
        assert len(reroutes) == 1 and reroutes[0].runner_id != stale_id, history
