"""A workflow attempt of a run that has ended (continued as new while the attempt, taken
over, went on) records neither its pause nor its continue-as-new, and leaves the run info
of the new run as it is."""

from __future__ import annotations

import pytest

from pynenc import Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.workflow import moves
from pynenc.workflow.journal import RunInfo, read_run, write_run
from pynenc.workflow.signals import ContinueAsNew, WorkflowPause


@pytest.fixture
def app() -> Pynenc:
    app = Pynenc(app_id="test-stale-moves")
    app.conf.broker_url = app.conf.state_backend_url = "memory://"
    app.purge()
    return app


@pytest.mark.parametrize(
    "signal",
    [WorkflowPause("wait", run=1, step=3), ContinueAsNew({"n": "2"}, {"n": 2}, run=1)],
    ids=["pause", "continue"],
)
def test_a_stale_run_moves_nothing(
    app: Pynenc, signal: WorkflowPause | ContinueAsNew, caplog: pytest.LogCaptureFixture
) -> None:
    current = RunInfo(run=2, fp="new", runs=[{"run": 1, "ended": 1.0}])
    write_run(app.state_backend, "wf-1", current)
    envelope = Envelope("wf-1", "mod.flow", {"n": "1"}, "json")
    moved = (
        moves.pause(app, envelope, "runner-a", signal)
        if isinstance(signal, WorkflowPause)
        else moves.continue_as_new(app, envelope, "runner-a", signal)
    )
    assert moved is False
    assert read_run(app.state_backend, "wf-1") == current
    assert "of run 1 not recorded: run 2 has started since" in caplog.text
