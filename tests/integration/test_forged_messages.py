"""A runner runs the stored call, never what a message claims: real runner, Redis, broker.

Anyone who can write to the broker can publish a message that reuses a registered
invocation's id with another task or other arguments. The claim refuses it (the backend
compares the stored task and the arguments' fingerprint in the claim's own atomic step);
the genuine message still runs the stored call, and its result is the genuine one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.identifiers import new_invocation_id
from pynenc.records import InvocationRecord
from pynenc.serializer import deserialize_result, serialize_arguments
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
ADD = "tests.apps.deploy.add"
SLEEP_THEN_ADD = "tests.apps.deploy.sleep_then_add"


def _registered(app: Pynenc, task_id: str, **kwargs: object) -> InvocationRecord:
    """Register an invocation without publishing it (no runner consumes yet)."""
    arguments = serialize_arguments(app.serializer, task_id, kwargs)
    record = InvocationRecord(new_invocation_id(), task_id, arguments)
    app.state_backend.register([record], 0.0)
    return record


def _message(app: Pynenc, invocation_id: str, task_id: str, **kwargs: object) -> Envelope:
    arguments = serialize_arguments(app.serializer, task_id, kwargs)
    return Envelope(invocation_id, task_id, arguments, app.conf.serializer)


def test_a_forged_message_is_refused_and_the_stored_call_runs(
    redis_server: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = Deployment("redis", redis_server.db_url(), redis_server.db_url())
    app = deployment.configure()
    app.purge()
    other_task = _registered(app, ADD, x=2, y=3)
    other_args = _registered(app, ADD, x=10, y=1)
    # the forged messages come first: a runner trusting them would run them
    app.broker.publish(
        [
            _message(app, other_task.invocation_id, SLEEP_THEN_ADD, x=100, seconds=0),
            _message(app, other_args.invocation_id, ADD, x=1000, y=1),
        ]
    )
    app.broker.publish([app.orchestrator.envelope_for(r) for r in (other_task, other_args)])
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        for record, expected in ((other_task, 5), (other_args, 11)):
            final = app.orchestrator.wait_final(record.invocation_id, timeout=60)
            assert final.status is S.SUCCESS, runner.log_tail()
            assert final.task_id == ADD
            assert final.result is not None
            assert deserialize_result(app.serializer, final.result) == expected
            history = app.state_backend.history(record.invocation_id)
            assert [e.status for e in history] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
        # each forged message is kept for inspection, and said why
        wait_until(lambda: app.broker.dead_letters("default") == 2, 30, "two dead letters")
        log = runner.log_tail()
        assert f"Refused a message for invocation {other_task.invocation_id}" in log
        assert f"names task {SLEEP_THEN_ADD!r}, the invocation is of {ADD!r}" in log
        assert "the values of its arguments (x, y) are not the stored ones" in log
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()
