"""A workflow that continues as new hundreds of times keeps bounded storage.

``wf.continue_as_new`` keeps the invocation id, so every run adds RUNNING and REGISTERED
to the same status history; the update that records the continue trims it in its atomic
step to the registration and the newest ``HISTORY_KEPT_ON_CONTINUE`` entries. The
journal and state of the old runs are dropped, and the run info remembers only the last
``RUNS_KEPT`` runs. Checked with real runners (a thread runner in this process on memory;
thread and process runners in processes of their own on SQLite and Redis).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.state_backend import StateBackend
from pynenc.testing import sync_mode
from pynenc.workflow.journal import (
    HISTORY_KEPT_ON_CONTINUE,
    RUNS_KEPT,
    read_journal,
    read_run,
)
from tests.apps import wf_hist
from tests.integration.deployments import Deployment, RunnerProcess
from tests.servers import Server

S = InvocationStatus
CONTINUES = 300
#: a ProcessRunner starts a process per run: fewer runs, still past the bound
PROCESS_CONTINUES = 80
#: the registration, the kept entries, and the few a run adds after its continue's trim
#: (its claim, and the final SUCCESS)
BOUND = HISTORY_KEPT_ON_CONTINUE + 1 + 3
#: generous on a loaded 2-core machine: each run is a claim, a few writes and a publish
TIMEOUT = 300.0


def _run_and_watch(
    app: Pynenc, log: RunnerProcess | None = None, continues: int = CONTINUES
) -> tuple[str, int]:
    """Start the workflow, wait for it to end while sampling its history length at each
    wake-up; its id and the longest history seen."""
    invocation = wf_hist.loop(continues, 0)
    inv = invocation.invocation_id
    backend = app.state_backend
    longest, waited = 0, 0.0
    while not backend.wait_final(inv, timeout=0.2):
        longest = max(longest, len(backend.history(inv)))
        waited += 0.2
        assert waited < TIMEOUT, f"the workflow did not end: {log.log_tail() if log else ''}"
    assert invocation.get_result(timeout=30) == continues + 1
    return inv, max(longest, len(backend.history(inv)))


def _check_bounded(
    backend: StateBackend, inv: str, longest: int, continues: int = CONTINUES
) -> None:
    history = backend.history(inv)
    assert longest <= BOUND, f"the history reached {longest} entries"
    assert len(history) <= BOUND
    # the registration is kept (listings read the registration time from it) ...
    assert history[0].status is S.REGISTERED and history[0].runner_id is None
    # ... and the newest entries, in order: the last continue, its claim, the success
    assert [e.status for e in history[-3:]] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
    assert history[-3].reason == f"continue-as-new: run {continues + 1}"
    assert [e.timestamp for e in history] == sorted(e.timestamp for e in history)
    [summary] = [s for s in backend.recent(10) if s.invocation_id == inv]
    assert summary.registered == history[0].timestamp
    # the old runs' journals and states are gone; the run info keeps the last few runs
    info = read_run(backend, inv)
    assert info is not None and info.run == continues + 1 and len(info.runs) <= RUNS_KEPT
    for run in (1, continues // 2, continues):
        assert read_journal(backend, inv, run) == []


@pytest.fixture
def app() -> Pynenc:
    wf_hist.app.conf.dev_mode_force_sync_tasks = False
    return wf_hist.app


def test_memory_with_a_thread_runner(app: Pynenc) -> None:
    app.reset_components()
    app.conf.broker_url = "memory://"
    app.conf.state_backend_url = "memory://"
    app.purge()
    try:
        with app.running_in_background(stop_timeout=60):
            inv, longest = _run_and_watch(app)
        _check_bounded(app.state_backend, inv, longest)
    finally:
        app.purge()
        app.reset_components()


def test_dev_sync_mode_keeps_the_same_bound(app: Pynenc) -> None:
    with sync_mode(app):
        invocation = wf_hist.loop(CONTINUES, 0)
        assert invocation.result == CONTINUES + 1
        history = invocation.history
    assert len(history) <= BOUND
    assert history[0].status is S.REGISTERED and history[0].runner_id is None
    assert [e.status for e in history[-3:]] == [S.REGISTERED, S.RUNNING, S.SUCCESS]


@pytest.mark.parametrize("backend_kind", ["sqlite", "redis"])
@pytest.mark.parametrize("runner_cls", ["ThreadRunner", "ProcessRunner"])
def test_a_runner_process(
    app: Pynenc, backend_kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend_kind == "sqlite":
        deployment = Deployment(
            "sqlite", f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db"
        )
    else:
        redis: Server = request.getfixturevalue("redis_server")
        deployment = Deployment("redis", redis.db_url(), redis.db_url())
    deployment.configure(app)
    app.purge()
    runner = RunnerProcess(
        deployment, runner_cls, log=tmp_path / "runner.log", app_ref="tests.apps.wf_hist:app"
    ).start()
    try:
        continues = PROCESS_CONTINUES if runner_cls == "ProcessRunner" else CONTINUES
        inv, longest = _run_and_watch(app, runner, continues)
        _check_bounded(app.state_backend, inv, longest, continues)
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.purge()
        app.reset_components()
