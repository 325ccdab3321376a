"""A runner stopped gracefully (SIGTERM) while a workflow runs: past ``stop_grace`` the
workflow is rerouted, and the next runner replays it — the same random number, the child
it called not called again.

SQLite and Redis, with a CLI runner process (thread, and process pools).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pynenc import InvocationStatus
from tests.apps import qa_wf as q
from tests.integration.compose_helpers import deployment
from tests.integration.deployments import RunnerProcess, wait_until
from tests.integration.qa_wf_helpers import APP, setup_id

S = InvocationStatus
SETUPS = [
    ("sqlite", "ThreadRunner"),
    ("sqlite", "PersistentProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]


@pytest.mark.parametrize(("kind", "runner_cls"), SETUPS, ids=[setup_id(s) for s in SETUPS])
def test_a_workflow_running_when_its_runner_stops_is_replayed_by_the_next(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dep = deployment(kind, tmp_path, request)
    dep.runner_settings["stop_grace"] = "1"
    app = dep.configure(q.app)
    app.purge()
    tag = uuid.uuid4().hex[:6]
    counter, gate, started = (str(tmp_path / f"{n}-{tag}") for n in ("runs", "gate", "started"))
    first = RunnerProcess(dep, runner_cls, log=tmp_path / "first.log", app_ref=APP).start()
    try:
        flow = q.waits_for_gate(counter, gate, started)
        wait_until(lambda: len(q.lines(started)) == 1, 60, "the body to reach its wait")
        assert first.stop() == 0, first.log_tail()
    finally:
        first.kill() if first.process and first.process.poll() is None else None
    record = app.state_backend.get(flow.invocation_id)
    assert record is not None and record.status is S.REROUTED, record
    Path(gate).touch()
    second = RunnerProcess(dep, runner_cls, log=tmp_path / "second.log", app_ref=APP).start()
    try:
        child, drawn = flow.get_result(timeout=60)
    finally:
        assert second.stop() == 0, second.log_tail()
    assert child == 5 and q.lines(counter) == ["run"]
    assert q.lines(started) == [str(drawn)] * 2
    app.reset_components()
