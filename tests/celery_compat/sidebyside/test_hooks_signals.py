"""Task class hooks and worker-side signals: when they run and what they are given."""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from billiard.einfo import ExceptionInfo
from celery import signals, states

from tests.celery_compat.sidebyside.conftest import WAIT
from tests.integration.deployments import wait_until

WORKER_SIGNALS = {
    "task_prerun": signals.task_prerun,
    "task_postrun": signals.task_postrun,
    "task_success": signals.task_success,
    "task_failure": signals.task_failure,
    "task_retry": signals.task_retry,
}


@dataclass
class Received:
    """Signals received for tasks of one flavour: (signal name, payload) in order."""

    module: str
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receiver(self, name: str) -> Any:
        def receive(sender: Any = None, **payload: Any) -> None:
            if str(getattr(sender, "name", "")).startswith(self.module):
                with self.lock:
                    self.events.append((name, payload))

        return receive

    def of(self, task_id: str) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(n, p) for n, p in self.events if _task_id(p) == task_id]


def _task_id(payload: dict[str, Any]) -> str | None:
    if "task_id" in payload:
        return str(payload["task_id"])
    if "request" in payload:
        return str(payload["request"].id)
    return None


@pytest.fixture
def received(tasks: ModuleType) -> Iterator[Received]:
    record = Received(tasks.__name__)
    receivers = {name: record.receiver(name) for name in WORKER_SIGNALS}
    for name, signal in WORKER_SIGNALS.items():
        signal.connect(receivers[name], weak=False)
    yield record
    for name, signal in WORKER_SIGNALS.items():
        signal.disconnect(receivers[name])


def hooks_of(tasks: ModuleType, task_id: str, *expected: str) -> list[tuple[str, dict[str, Any]]]:
    """The hooks run for ``task_id``, in order, once those ``expected`` (in any order) ran:
    a worker may store the result, which ends ``get()``, before it calls the hooks."""

    def of_task() -> list[tuple[str, dict[str, Any]]]:
        return [(name, payload) for name, tid, payload in list(tasks.HOOKS) if tid == task_id]

    def complete() -> bool:
        return sorted(name for name, _ in of_task()) == sorted(expected)

    wait_until(complete, WAIT, f"hooks {expected} of {task_id} (ran: {of_task()})")
    return of_task()


def signals_of(received: Received, task_id: str, *expected: str) -> list[tuple[str, Any]]:
    """The signals sent for ``task_id``, in order, once those ``expected`` were sent."""

    def complete() -> bool:
        return sorted(name for name, _ in received.of(task_id)) == sorted(expected)

    wait_until(complete, WAIT, f"signals {expected} of {task_id}")
    return received.of(task_id)


# -- hooks ---------------------------------------------------------------------------------


def test_hooks_on_success(tasks: ModuleType) -> None:
    result = tasks.hooked.delay("ok", factor=2)
    assert result.get(timeout=WAIT) == "okok"
    hooks = hooks_of(tasks, result.id, "before_start", "on_success", "after_return")
    assert [name for name, _ in hooks] == ["before_start", "on_success", "after_return"]
    start, success, after = (payload for _, payload in hooks)
    assert start == {"args": ["ok"], "kwargs": {"factor": 2}}
    assert success == {"retval": "okok", "args": ["ok"], "kwargs": {"factor": 2}}
    assert after == {
        "status": states.SUCCESS,
        "retval": "okok",
        "args": ["ok"],
        "kwargs": {"factor": 2},
        "einfo": None,
    }


def test_hooks_on_failure(tasks: ModuleType) -> None:
    result = tasks.hooked.delay("fail", 3)
    with pytest.raises(tasks.Boom):
        result.get(timeout=WAIT)
    hooks = hooks_of(tasks, result.id, "before_start", "on_failure", "after_return")
    assert [name for name, _ in hooks] == ["before_start", "on_failure", "after_return"]
    failure, after = hooks[1][1], hooks[2][1]
    assert type(failure["exc"]) is tasks.Boom and failure["exc"].args == ("failed", 3)
    assert (failure["args"], failure["kwargs"]) == (["fail", 3], {})
    assert isinstance(failure["einfo"], ExceptionInfo)
    assert "Boom: ('failed', 3)" in failure["einfo"].traceback
    assert after["status"] == states.FAILURE and after["retval"] is failure["exc"]
    assert after["einfo"] is None  # Celery passes None here, failure or not


def test_hooks_on_retry(tasks: ModuleType) -> None:
    result = tasks.hooked.delay("retry")
    assert result.get(timeout=WAIT) == "retry"
    # after_return is not called for the attempt that retried; on_retry may run after the
    # next attempt started (Celery sends the retry first)
    expected = ["before_start", "on_retry", "before_start", "on_success", "after_return"]
    hooks = hooks_of(tasks, result.id, *expected)
    assert hooks[0][0] == "before_start"
    retry = dict(hooks)["on_retry"]
    assert type(retry["exc"]) is tasks.Boom and retry["exc"].args == ("again",)
    assert (retry["args"], retry["kwargs"]) == (["retry"], {})
    assert isinstance(retry["einfo"], ExceptionInfo)
    assert dict(hooks)["after_return"]["status"] == states.SUCCESS


def test_a_raising_on_success_keeps_the_success(tasks: ModuleType) -> None:
    result = tasks.hooked.delay("explode")
    assert result.get(timeout=WAIT) == "explode"
    hooks_of(tasks, result.id, "before_start", "on_success", "after_return")
    assert result.state == states.SUCCESS


# -- signals -------------------------------------------------------------------------------


def test_signals_of_a_success(tasks: ModuleType, received: Received) -> None:
    result = tasks.add.delay(1, 2)
    assert result.get(timeout=WAIT) == 3
    events = signals_of(received, result.id, "task_prerun", "task_postrun")
    assert [name for name, _ in events] == ["task_prerun", "task_postrun"]
    prerun, postrun = events[0][1], events[1][1]
    assert sorted(prerun) == ["args", "kwargs", "signal", "task", "task_id"]
    assert (prerun["task"].name, prerun["args"], prerun["kwargs"]) == (tasks.add.name, [1, 2], {})
    assert sorted(postrun) == ["args", "kwargs", "retval", "signal", "state", "task", "task_id"]
    assert (postrun["retval"], postrun["state"]) == (3, states.SUCCESS)
    successes = [p for n, p in received.events if n == "task_success" and p["result"] == 3]
    assert successes and sorted(successes[0]) == ["result", "runtime", "signal"]
    assert isinstance(successes[0]["runtime"], float)


def test_signals_of_a_failure(tasks: ModuleType, received: Received) -> None:
    result = tasks.boom.delay("signal")
    with pytest.raises(tasks.Boom):
        result.get(timeout=WAIT)
    events = signals_of(received, result.id, "task_prerun", "task_failure", "task_postrun")
    assert [name for name, _ in events] == ["task_prerun", "task_failure", "task_postrun"]
    failure = events[1][1]
    assert sorted(failure) == [
        "args",
        "einfo",
        "exception",
        "kwargs",
        "signal",
        "task_id",
        "traceback",
    ]
    assert type(failure["exception"]) is tasks.Boom
    assert (failure["args"], failure["kwargs"]) == (["signal"], {})
    assert isinstance(failure["traceback"], types.TracebackType)
    assert "raise Boom(*args)" in failure["einfo"].traceback
    assert (events[2][1]["state"], events[2][1]["retval"]) == (states.FAILURE, failure["exception"])


def test_signals_of_autoretry_with_backoff(tasks: ModuleType, received: Received) -> None:
    result = tasks.auto_backoff.delay()
    with pytest.raises(tasks.Boom) as raised:
        result.get(timeout=WAIT)
    assert raised.value.args == ("attempt", 2)
    retried = ["task_prerun", "task_retry", "task_postrun"] * 2
    failed = ["task_prerun", "task_failure", "task_postrun"]
    events = signals_of(received, result.id, *retried, *failed)
    retries = [payload for name, payload in events if name == "task_retry"]
    keys = ["einfo", "reason", "request", "signal"]
    assert [sorted(payload) for payload in retries] == [keys, keys]
    assert [payload["reason"].when for payload in retries] == [1, 2]  # 2 ** retries, no jitter
    assert [type(payload["reason"].exc) for payload in retries] == [tasks.Boom] * 2
    assert [payload["request"].retries for payload in retries] == [0, 1]
    states_after = [payload["state"] for name, payload in events if name == "task_postrun"]
    assert states_after == [states.RETRY, states.RETRY, states.FAILURE]
