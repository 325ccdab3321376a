"""Runner life cycle on the embedded default: heartbeats, recovery, graceful stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pynenc import InvocationStatus, Pynenc, ThreadRunner
from pynenc.call import Call
from pynenc.runner.services import RunnerServices
from tests.apps import core

S = InvocationStatus


@pytest.fixture
def fast_recovery(core_app: Pynenc) -> Iterator[Pynenc]:
    conf = core_app.conf.runner
    saved = (conf.heartbeat_interval, conf.dead_after, conf.stop_grace, conf.max_reroutes)
    conf.update(heartbeat_interval=0.05, dead_after=0.5, stop_grace=30.0)
    core.GATES.clear()
    core.STARTED.clear()
    yield core_app
    for gate in core.GATES.values():
        gate.set()
    conf.update(
        heartbeat_interval=saved[0], dead_after=saved[1], stop_grace=saved[2], max_reroutes=saved[3]
    )


def _start(app: Pynenc, threads: int = 2) -> tuple[ThreadRunner, threading.Thread]:
    runner = ThreadRunner(app, threads=threads)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    # consuming: past the start-up check, its services started (first heartbeat written)
    assert runner.consuming.wait(10), "runner did not start consuming"
    return runner, thread


def _stop(runner: ThreadRunner, thread: threading.Thread, immediate: bool = False) -> None:
    runner.stop_runner_loop(immediate=immediate)
    thread.join(timeout=30)
    assert not thread.is_alive()


def _claim_as_dead_runner(app: Pynenc, invocation_id: str, runner_id: str) -> None:
    """Make ``runner_id`` own the invocation and then fall silent."""
    record = app.orchestrator.get_record(invocation_id)
    assert app.orchestrator.claim_each([app.orchestrator.envelope_for(record)], runner_id) == [None]
    app.state_backend.heartbeat(runner_id, time.time() - 60)


def test_runner_heartbeats_while_running(fast_recovery: Pynenc) -> None:
    runner, thread = _start(fast_recovery)
    try:
        first = fast_recovery.state_backend.runners()[runner.runner_id]
        deadline = time.monotonic() + 10
        while fast_recovery.state_backend.runners().get(runner.runner_id) == first:
            assert time.monotonic() < deadline, "no second heartbeat"
            time.sleep(0.01)
    finally:
        _stop(runner, thread)
    assert runner.runner_id not in fast_recovery.state_backend.runners()  # forgotten on stop


def test_work_of_a_dead_runner_is_rerouted_and_completed(fast_recovery: Pynenc) -> None:
    invocation = core.add(2, 3)
    # a runner that took the message, claimed it, then died (no more heartbeats)
    consumer = fast_recovery.broker.consumer(["default"], prefetch=1)
    [delivery] = consumer.get(1, timeout=5)
    delivery.ack()
    consumer.close()
    _claim_as_dead_runner(fast_recovery, invocation.invocation_id, "ghost-runner")
    runner, thread = _start(fast_recovery)
    try:
        assert invocation.get_result(timeout=20) == 5
    finally:
        _stop(runner, thread)
    history = invocation.history
    statuses = [e.status for e in history]
    assert statuses == [S.REGISTERED, S.RUNNING, S.REROUTED, S.RUNNING, S.SUCCESS]
    rerouted = history[2]
    assert rerouted.runner_id == runner.runner_id  # who did it
    assert rerouted.reason is not None and "ghost-runner is dead" in rerouted.reason
    assert "ghost-runner" not in fast_recovery.state_backend.runners()


def test_reroute_budget_then_failure(fast_recovery: Pynenc) -> None:
    fast_recovery.conf.runner.max_reroutes = 1
    invocation = core.add(1, 1)
    orchestrator = fast_recovery.orchestrator
    services = RunnerServices(fast_recovery, "recoverer")
    for attempt in range(2):
        _claim_as_dead_runner(fast_recovery, invocation.invocation_id, f"dead-{attempt}")
        services.run_once()
    record = orchestrator.get_record(invocation.invocation_id)
    assert record.status is S.FAILED
    with pytest.raises(Exception, match="rerouted 1 times"):
        invocation.result


def test_graceful_stop_lets_running_work_finish(fast_recovery: Pynenc) -> None:
    runner, thread = _start(fast_recovery)
    invocation = core.wait_gate("graceful")
    assert core.STARTED.setdefault("graceful", threading.Event()).wait(10)
    runner.stop_runner_loop()
    assert thread.is_alive()  # still finishing the running invocation
    core.GATES.setdefault("graceful", threading.Event()).set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert invocation.status is S.SUCCESS


def test_stop_after_grace_reroutes_unfinished_work(fast_recovery: Pynenc) -> None:
    fast_recovery.conf.runner.stop_grace = 0.1
    runner, thread = _start(fast_recovery)
    invocation = core.wait_gate("slow")
    assert core.STARTED.setdefault("slow", threading.Event()).wait(10)
    _stop(runner, thread)
    record = fast_recovery.orchestrator.get_record(invocation.invocation_id)
    assert record.status is S.REROUTED
    assert "stopped before finishing" in (invocation.history[-1].reason or "")
    # another runner picks it up
    core.GATES["slow"].set()
    runner, thread = _start(fast_recovery)
    try:
        assert invocation.get_result(timeout=20) == "slow"
    finally:
        _stop(runner, thread)


def test_second_stop_request_skips_the_grace_period(fast_recovery: Pynenc) -> None:
    runner, thread = _start(fast_recovery)
    invocation = core.wait_gate("now")
    assert core.STARTED.setdefault("now", threading.Event()).wait(10)
    started = time.monotonic()
    runner.stop_runner_loop()
    runner.stop_runner_loop()
    thread.join(timeout=30)
    assert time.monotonic() - started < fast_recovery.conf.runner.stop_grace
    assert fast_recovery.orchestrator.get_record(invocation.invocation_id).status is S.REROUTED


def test_malformed_message_is_dropped_and_runner_keeps_working(fast_recovery: Pynenc) -> None:
    broker = fast_recovery.broker
    with broker.connection() as conn:
        conn.Producer().publish(
            "{not json",
            exchange="",
            routing_key=broker.queue_name("default"),
            content_type="application/x-pynenc-envelope+json",
        )
    runner, thread = _start(fast_recovery)
    try:
        assert core.add(1, 2).get_result(timeout=20) == 3
    finally:
        _stop(runner, thread)


def test_lost_message_is_published_again(fast_recovery: Pynenc) -> None:
    fast_recovery.conf.runner.redeliver_after = 1.0
    invocation = core.add(4, 4)
    consumer = fast_recovery.broker.consumer(["default"], prefetch=1)
    [delivery] = consumer.get(1, timeout=5)
    delivery.ack()  # the broker forgot it; nobody claimed it
    consumer.close()
    runner, thread = _start(fast_recovery)
    try:
        assert invocation.get_result(timeout=20) == 8
    finally:
        _stop(runner, thread)


def _route_one_message(app: Pynenc, names: list[str]) -> list[str]:
    """Send ``wait_gate(name)`` for every name in a single batch message."""
    calls = [Call(core.wait_gate, core.wait_gate.args(name)) for name in names]
    return [i.invocation_id for i in app.orchestrator.route(calls, per_message=len(calls))]


def test_a_batch_message_larger_than_the_slots_runs_whole(fast_recovery: Pynenc) -> None:
    names = [f"batch-{i}" for i in range(5)]
    for name in names:
        core.GATES.setdefault(name, threading.Event()).set()
    ids = _route_one_message(fast_recovery, names)
    runner, thread = _start(fast_recovery, threads=1)
    try:
        records = fast_recovery.orchestrator.wait_final_many(ids, timeout=20)
    finally:
        _stop(runner, thread)
    assert [r.status for r in records] == [S.SUCCESS] * 5
    assert {r.owner for r in records} == {None}
    runs = {e.runner_id for i in ids for e in fast_recovery.state_backend.history(i)[1:]}
    assert runs == {runner.runner_id}  # one runner claimed the whole message


def test_claimed_work_not_started_at_stop_is_rerouted(fast_recovery: Pynenc) -> None:
    names = ["held-0", "held-1", "held-2"]
    first, *rest = _route_one_message(fast_recovery, names)
    runner, thread = _start(fast_recovery, threads=1)
    assert core.STARTED.setdefault("held-0", threading.Event()).wait(10)
    # the other two are claimed (one message) but wait for the only slot
    assert fast_recovery.orchestrator.get_record(rest[0]).status is S.RUNNING
    runner.stop_runner_loop()
    core.GATES.setdefault("held-0", threading.Event()).set()
    thread.join(timeout=30)
    assert fast_recovery.orchestrator.get_record(first).status is S.SUCCESS
    for invocation_id in rest:
        history = fast_recovery.state_backend.history(invocation_id)
        assert history[-1].status is S.REROUTED
        assert "stopped before starting it" in (history[-1].reason or "")
    for name in names[1:]:
        core.GATES.setdefault(name, threading.Event()).set()
    runner, thread = _start(fast_recovery)
    try:
        records = fast_recovery.orchestrator.wait_final_many(rest, timeout=20)
    finally:
        _stop(runner, thread)
    assert [r.result for r in records] == ['"held-1"', '"held-2"']
