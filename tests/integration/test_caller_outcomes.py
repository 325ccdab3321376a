"""What the caller is told matches what happens: real servers, real runner processes.

A call that could not be published is FAILED, never run later; a lost record is reported
as gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.call import Call
from pynenc.exceptions import BrokerError, InvocationNotFoundError
from pynenc.records import InvocationRecord
from pynenc.serializer import payload_to_exception
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
FAST = {"heartbeat_interval": "0.2", "dead_after": "2", "redeliver_after": "1"}


def _runs(marker: Path) -> int:
    """How many times ``deploy.flaky`` ran with this marker file."""
    text = marker.read_text() if marker.exists() else ""
    return int(text) if text.strip() else 0  # (created, then written: maybe empty a moment)


def test_call_that_failed_to_publish_is_failed_and_never_runs(
    tmp_path: Path, redis_factory: Callable[..., Server], redis_server: Server
) -> None:
    broker = redis_factory()
    deployment = Deployment("unpublished", broker.url, redis_server.db_url(), FAST)
    app = deployment.configure()
    app.conf.broker.publish_retries = 1
    app.purge()
    marker = tmp_path / "runs"
    broker.stop()
    try:
        started = time.monotonic()
        with pytest.raises(BrokerError) as raised:
            deploy.flaky(str(marker), 1)
        assert time.monotonic() - started < 30
        [failed_id] = app.state_backend.find(task_id="tests.apps.deploy.flaky")
        record = app.orchestrator.get_record(failed_id)
        assert record.status is S.FAILED, "the caller was told it failed"
        assert record.error is not None and record.error["type"] == "pynenc.exceptions.BrokerError"
        last = app.state_backend.history(failed_id)[-1]
        assert last.status is S.FAILED and "could not be published" in (last.reason or "")
        assert failed_id in str(raised.value) and "FAILED" in str(raised.value)
        # a lost message, registered with it: redelivery publishes it, so once it has run,
        # the redelivery pass that would have published the failed call has happened too
        app.state_backend.register([_lost_message(app, "witness-1")], time.time())
    finally:
        broker.start()
    app.reset_components()
    runner = RunnerProcess(
        deployment, "ThreadRunner", "--threads", "1", log=tmp_path / "runner.log"
    ).start()
    try:
        wait_until(
            lambda: app.orchestrator.get_record("witness-1").status is S.SUCCESS,
            60,
            "the lost message to be redelivered and run",
        )
        # one slot, one queue: anything published before this call has run before it
        assert deploy.add(2, 3).get_result(timeout=60) == 5
    finally:
        assert runner.stop() == 0, runner.log_tail()
    assert _runs(marker) == 0, "work the caller was told failed ran anyway"
    record = app.orchestrator.get_record(failed_id)
    assert record.status is S.FAILED
    assert S.RUNNING not in [e.status for e in app.state_backend.history(failed_id)]
    assert record.error is not None
    assert isinstance(payload_to_exception(record.error), BrokerError)
    app.reset_components()


def _lost_message(app: Pynenc, invocation_id: str) -> InvocationRecord:
    """A registered ``add(1, 1)`` whose message never reached the broker."""
    arguments = Call(deploy.add, deploy.add.args(1, 1)).serialized_arguments
    return InvocationRecord(invocation_id, deploy.add.task_id.key, arguments)


def test_direct_task_raises_the_same_class_with_its_attributes(tmp_path: Path) -> None:
    """An exception with a keyword-only constructor crosses processes as itself."""
    deployment = Deployment(
        "weird", f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db", FAST
    )
    app = deployment.configure()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        with pytest.raises(deploy.WeirdError) as raised:
            deploy.direct_weird(7, "bad input")
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()
    assert (raised.value.code, raised.value.detail) == (7, "bad input")
    assert str(raised.value) == "7: bad input"


def test_record_lost_by_a_redis_restart_is_reported_as_gone(
    redis_factory: Callable[..., Server],
) -> None:
    """Redis restarted without persistence while a caller waits: the record is gone."""
    state = redis_factory()
    deployment = Deployment("lost", "memory://", state.url, FAST)
    app = deployment.configure()
    invocation = deploy.add(1, 2)  # nothing consumes memory:// here: it stays REGISTERED
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            invocation.get_result(timeout=60)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    try:
        backend = app.state_backend
        wait_until(
            lambda: invocation.invocation_id in backend._waiters._waiting,
            10,
            "the wait",  # type: ignore[attr-defined]
        )
        state.restart()  # no append-only file: it comes back empty
        waiter.join(timeout=45)
        assert not waiter.is_alive(), "the caller still waits for a record that is gone"
    finally:
        app.reset_components()
    [error] = outcome
    assert isinstance(error, InvocationNotFoundError)
    message = str(error)
    assert invocation.invocation_id in message
    assert "lost by the state backend" in message and "purged" in message
    assert state.url.split("/0")[0].replace("redis://", "") in message


def test_group_wait_on_purged_records_says_they_are_gone(core_app: Pynenc) -> None:
    from tests.apps import core

    group = core.add.parallelize([(1, 1), (2, 2)])
    core_app.state_backend.purge()
    with pytest.raises(InvocationNotFoundError, match="lost by the state backend"):
        list(group.results)


def test_parallelize_failing_mid_way_fails_that_batch_and_says_what_was_sent(
    core_app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches published before the failure stay (they run); the failed batch is FAILED."""
    from tests.apps import core

    broker = core_app.broker
    real_publish = broker.publish
    sent: list[int] = []

    def second_batch_fails(envelopes: list[object], per_message: int = 1) -> None:
        if sent:
            raise BrokerError("Could not publish to queue 'x' (test)")
        sent.append(len(envelopes))
        real_publish(envelopes, per_message)  # type: ignore[arg-type]

    monkeypatch.setattr(broker, "publish", second_batch_fails)
    with pytest.raises(BrokerError) as raised:
        core.add.parallelize([(i, 0) for i in range(250)])
    backend = core_app.state_backend
    registered = backend.find(task_id="tests.apps.core.add", statuses=[S.REGISTERED])
    failed = backend.find(task_id="tests.apps.core.add", statuses=[S.FAILED])
    assert (len(registered), len(failed)) == (100, 100)
    notes = " ".join(getattr(raised.value, "__notes__", []))
    assert "100 invocations" in notes and "published before" in notes and "will run" in notes
