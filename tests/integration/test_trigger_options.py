"""A trigger's call options reach the invocation a runner process registers and runs
(SQLite broker and state backend): queue, priority, headers (with ``pynenc_trigger``),
expiry and delay; and two triggers differing only in their names both fire."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynenc import InvocationStatus
from tests.apps import trigger_options
from tests.integration.deployments import Deployment, RunnerProcess, wait_until

pytestmark = pytest.mark.integration

WAIT = 60.0


def test_call_options_reach_the_invocation_record_and_the_task(tmp_path: Path) -> None:
    deployment = Deployment(
        "sqlite",
        f"sqlite:///{tmp_path}/b.db",
        f"sqlite:///{tmp_path}/s.db",
        {"queues": f"default,{trigger_options.QUEUE}", "scheduler_poll": "0.05"},
    )
    app = deployment.configure(trigger_options.app)
    runner = RunnerProcess(
        deployment,
        "ThreadRunner",
        app_ref="tests.apps.trigger_options:app",
        log=tmp_path / "runner.log",
    ).start()
    try:
        event_id = app.trigger.emit_event("go")
        key = trigger_options.report.task_id.key

        def ended() -> list[object]:
            records = app.state_backend.get_many(app.state_backend.find(key))
            done = [r for r in records if r is not None and r.status.is_final]
            return done if len(done) == 2 else []

        try:
            wait_until(ended, WAIT, "both triggered invocations to end")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the runner's log:\n{runner.log_tail()}") from None
        records = app.state_backend.get_many(app.state_backend.find(key))
    finally:
        assert runner.stop() == 0
    fired = {r.headers["pynenc_trigger"]["name"]: r for r in records if r and r.headers}
    assert sorted(fired) == ["plain", "tuned"]
    tuned, plain = fired["tuned"], fired["plain"]
    assert tuned.status is InvocationStatus.SUCCESS, runner.log_tail()
    assert tuned.invocation_id.startswith("trg-")
    assert tuned.queue == trigger_options.QUEUE and tuned.priority == 7
    assert tuned.due is not None and tuned.expires is not None
    assert tuned.expires - tuned.due == pytest.approx(300 - 0.3)
    assert tuned.headers is not None and tuned.headers["team"] == "ops"
    assert tuned.headers["pynenc_trigger"]["event_id"] == event_id
    seen = app.serializer.loads(tuned.result or "null")
    assert seen["label"] == "x" and seen["headers"] == tuned.headers  # the task sees them
    assert plain.status is InvocationStatus.SUCCESS
    assert plain.queue == "default" and plain.priority is None and plain.expires is None
    assert plain.headers is not None and set(plain.headers) == {"pynenc_trigger"}
