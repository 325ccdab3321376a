"""End-to-end behaviour of tasks on the embedded default (memory broker + state, ThreadRunner)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest

from pynenc import InvocationStatus, Pynenc, SerializationError, ThreadRunner
from pynenc.exceptions import InvocationTimeoutError, OutsideTaskError
from tests.apps import core


def test_result_status_and_history(running_app: Pynenc) -> None:
    invocation = core.add(1, 2)
    assert invocation.result == 3
    assert invocation.status is InvocationStatus.SUCCESS
    statuses = [entry.status for entry in invocation.history]
    assert statuses == [
        InvocationStatus.REGISTERED,
        InvocationStatus.RUNNING,
        InvocationStatus.SUCCESS,
    ]
    running = invocation.history[1]
    assert running.runner_id == running_app.runner.runner_id
    stamps = [entry.timestamp for entry in invocation.history]
    assert stamps == sorted(stamps)
    assert invocation.num_retries == 0


def test_exception_reraised_as_same_class(running_app: Pynenc) -> None:
    invocation = core.fail_with("boom")
    with pytest.raises(ValueError, match="boom") as info:
        invocation.result
    assert any("Remote traceback" in note for note in getattr(info.value, "__notes__", []))
    assert invocation.status is InvocationStatus.FAILED


def test_exception_with_an_unusual_constructor_keeps_class_and_attributes(
    running_app: Pynenc,
) -> None:
    with pytest.raises(core.NeedsTwoArgs) as info:
        core.fail_custom(7).result
    assert info.value.code == 7 and str(info.value) == "7: custom"


def test_get_result_timeout_names_the_invocation(core_app: Pynenc) -> None:
    invocation = core.add(1, 2)  # no runner: it stays REGISTERED
    with pytest.raises(InvocationTimeoutError) as info:
        invocation.get_result(timeout=0.05)
    assert invocation.invocation_id in str(info.value)
    assert "REGISTERED" in str(info.value)
    assert isinstance(info.value, TimeoutError)


def test_async_result(running_app: Pynenc) -> None:
    async def main() -> int:
        return await core.add(20, 22).async_result()

    assert asyncio.run(main()) == 42


def test_async_task_body_runs_on_runner(running_app: Pynenc) -> None:
    assert core.async_double(21).result == 42


def test_parallelize_formats(running_app: Pynenc) -> None:
    group = core.add.parallelize([(1, 1), core.add.args(1, 2), {"x": 2, "y": 3}])
    assert list(group.results) == [2, 3, 5]
    assert len(group.invocations) == 3


def test_parallelize_common_args(running_app: Pynenc) -> None:
    common = {"large_data": "huge_string"}
    group = core.process.parallelize([{"index": i} for i in range(3)], common)
    assert list(group.results) == [len("huge_string") + i for i in range(3)]


def test_parallelize_own_value_overrides_common(running_app: Pynenc) -> None:
    group = core.process.parallelize(
        [{"index": 1, "large_data": "ab"}, {"index": 2}], {"large_data": "abcd"}
    )
    assert list(group.results) == [3, 6]


def test_parallelize_async_results(running_app: Pynenc) -> None:
    async def main() -> list[int]:
        group = core.add.parallelize([(i, 1) for i in range(5)])
        return [r async for r in group.async_results()]

    assert asyncio.run(main()) == [1, 2, 3, 4, 5]


def test_parallelize_batches_of_parallel_batch_size(running_app: Pynenc) -> None:
    calls = []
    original = running_app.orchestrator.send

    def counting(plan, per_message):  # type: ignore[no-untyped-def]
        calls.append((len(plan.records), per_message))
        return original(plan, per_message)

    running_app.orchestrator.send = counting  # type: ignore[method-assign]
    try:
        group = core.add.parallelize([(i, 0) for i in range(250)])
    finally:
        del running_app.orchestrator.send
    # 250 calls spread over at least 32 messages: 7 invocations per message
    assert calls == [(100, 7), (100, 7), (50, 7)]
    assert list(group.results) == list(range(250))


def test_invocations_per_message_spreads_a_fan_out() -> None:
    from pynenc.task import MIN_FAN_OUT_MESSAGES, invocations_per_message

    assert invocations_per_message(10, 100) == 1  # small fan-outs: one call per message
    assert invocations_per_message(MIN_FAN_OUT_MESSAGES * 3, 100) == 3
    assert invocations_per_message(10_000, 100) == 100  # capped by parallel_batch_size
    assert invocations_per_message(10_000, 20) == 20


def test_retry_for_until_success(running_app: Pynenc) -> None:
    invocation = core.flaky("a", succeed_on=3)
    assert invocation.result == 3
    assert invocation.num_retries == 2
    statuses = [e.status for e in invocation.history]
    assert statuses.count(InvocationStatus.RETRY) == 2


def test_retries_exhausted_raise_the_last_error(running_app: Pynenc) -> None:
    invocation = core.flaky("b", succeed_on=10)
    with pytest.raises(core.FlakyError, match="attempt 3"):
        invocation.result
    assert invocation.num_retries == 2
    assert core.ATTEMPTS["b"] == 3


def test_retry_error_is_always_retriable(running_app: Pynenc) -> None:
    assert core.asks_retry("c").result == 2


def test_nested_waits_complete_on_a_single_slot(core_app: Pynenc) -> None:
    runner = ThreadRunner(core_app, threads=1)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert core.sum_of_adds(5).get_result(timeout=30) == sum(2 * i for i in range(5))
        assert core.chain_depth(6).get_result(timeout=30) == 6
    finally:
        runner.stop_runner_loop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_invocation_inside_and_outside_a_task(running_app: Pynenc) -> None:
    invocation = core.current_invocation_id()
    assert invocation.result == invocation.invocation_id
    with pytest.raises(OutsideTaskError, match="only available while the task is running"):
        core.current_invocation_id.invocation


def test_sub_invocations_record_their_parent(running_app: Pynenc) -> None:
    parent = core.sum_of_adds(2)
    parent.result
    children = running_app.state_backend.find(task_id="tests.apps.core.add")
    records = [running_app.state_backend.get(c) for c in children]
    assert {r.parent_id for r in records if r} == {parent.invocation_id}


@pytest.mark.parametrize(
    "value",
    [
        (1, (2, 3)),
        {1: "int key", (1, 2): "tuple key"},
        dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        uuid.UUID(int=7),
        Decimal("1.10"),
        b"\x00bytes",
        {"nested": [dt.date(2025, 1, 1), {3, 4}]},
    ],
    ids=["tuple", "dict-keys", "datetime", "uuid", "decimal", "bytes", "nested"],
)
def test_values_round_trip_through_the_runner(running_app: Pynenc, value: object) -> None:
    result = core.echo(value).result
    assert result == value
    assert type(result) is type(value)


def test_wrong_call_raises_type_error_before_sending(core_app: Pynenc) -> None:
    with pytest.raises(TypeError):
        core.add(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        core.add(1, 2, z=3)  # type: ignore[call-arg]
    assert core_app.state_backend.find() == []


def test_unserializable_argument_fails_at_call_site(core_app: Pynenc) -> None:
    with pytest.raises(SerializationError) as info:
        core.echo(threading.Lock())
    message = str(info.value)
    assert "'value'" in message and "json" in message and "cloudpickle" in message
    assert core_app.state_backend.find() == []


def test_stop_runner_loop_returns_promptly_when_idle(core_app: Pynenc) -> None:
    runner = ThreadRunner(core_app, threads=2)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    runner.stop_runner_loop()
    thread.join(timeout=5)
    assert not thread.is_alive()
