"""Time-limit options, the one-recorder rule of an attempt, the runner's watch, the soft
limit by signal, and cancellation in dev sync mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from pynenc import (
    ConfigError,
    InvocationCancelledError,
    InvocationStatus,
    Pynenc,
    SoftTimeoutExceeded,
    Task,
)
from pynenc.attempt import BODY, Attempt
from pynenc.conf import AppConfig
from pynenc.conf.limits import seconds_or_none
from pynenc.conf.option import InvalidValue
from pynenc.records import InvocationRecord, StatusEntry, StatusUpdate
from pynenc.runner.deadlines import RunningWatch
from pynenc.runner.soft_limit import soft_limit_signal
from pynenc.state_backend.memory import MemoryStateBackend
from tests.apps import deadlines

S = InvocationStatus


@pytest.mark.parametrize(
    ("raw", "value"), [(None, None), ("none", None), ("", None), (2, 2.0), ("0.5", 0.5)]
)
def test_seconds_or_none(raw: object, value: float | None) -> None:
    assert seconds_or_none(raw) == value


# 1e300 s overflowed the timers enforcing it: a ProcessRunner child died at each start,
# the invocation failed after max_reroutes; a ThreadRunner logged an OverflowError
@pytest.mark.parametrize("raw", [0, -1, "inf", float("nan"), "soon", True, 1e300, "4e9"])
def test_seconds_or_none_refuses(raw: object) -> None:
    with pytest.raises(InvalidValue):
        seconds_or_none(raw)


def test_limits_resolve_like_other_task_options() -> None:
    conf = AppConfig(environ={"PYNENC__TASK__TIMEOUT": "30"})
    resolved = conf.task_config("mod.task", {"soft_timeout": 10})
    assert (resolved.timeout, resolved.soft_timeout) == (30.0, 10.0)
    assert resolved.source_of("timeout").startswith("environment")
    with pytest.raises(ConfigError, match=r"task\.timeout must be a number of seconds > 0"):
        conf.task_config("mod.task", {"timeout": 0})
    with pytest.raises(ConfigError, match=r"at most 100 years"):
        conf.task_config("mod.task", {"soft_timeout": 1e300})


@pytest.mark.parametrize(("hard", "soft"), [(5, 5), (5, 8)])
def test_a_soft_limit_must_be_shorter_than_the_hard_one(hard: float, soft: float) -> None:
    app = Pynenc(app_id="unit-limits")
    with pytest.raises(ConfigError) as raised:
        Task(app, deadlines.add.func, {"timeout": hard, "soft_timeout": soft})
    message = str(raised.value)
    assert "tests.apps.deadlines.add" in message
    assert f"soft_timeout ({soft:g} s) must be shorter than timeout ({hard:g} s)" in message
    Task(app, deadlines.add.func, {"timeout": hard, "soft_timeout": hard / 2})  # fine
    Task(app, deadlines.add.func, {"soft_timeout": soft})  # a soft limit alone is fine


def test_exactly_one_party_records_an_attempt() -> None:
    attempt = Attempt("inv", "mod.task", timeout=1.0)
    assert attempt.settle("time limit") and not attempt.settle(BODY)
    assert attempt.settled_by == "time limit"
    results: list[bool] = []
    contested = Attempt("inv", "mod.task")
    threads = [
        threading.Thread(target=lambda name=str(i): results.append(contested.settle(name)))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_the_soft_limit_is_raised_once_at_a_checkpoint() -> None:
    attempt = Attempt("inv", "mod.task", timeout=10, soft_timeout=0.05)
    attempt.check_soft()  # not yet
    time.sleep(0.06)
    with pytest.raises(SoftTimeoutExceeded, match=r"soft time limit of 0\.05 s") as raised:
        attempt.check_soft()
    assert raised.value.limit == 0.05
    attempt.check_soft()  # once


class CountingBackend(MemoryStateBackend):
    """Counts batched reads (a spy: the watch must read nothing while idle)."""

    def __init__(self, app_id: str) -> None:
        super().__init__(app_id)
        self.reads: list[int] = []

    def get_many(self, invocation_ids: Sequence[str]) -> list[InvocationRecord | None]:
        self.reads.append(len(invocation_ids))
        return super().get_many(invocation_ids)


@pytest.fixture
def watched_app() -> Iterator[tuple[Pynenc, CountingBackend]]:
    app = Pynenc(app_id="unit-watch", config_values={"runner": {"cancel_check_interval": 0.05}})
    backend = CountingBackend("unit-watch")
    app.__dict__["state_backend"] = backend
    backend.purge()
    yield app, backend
    backend.purge()


def test_the_watch_reports_overruns_and_reads_nothing_while_idle(
    watched_app: tuple[Pynenc, CountingBackend],
) -> None:
    app, backend = watched_app
    overran: list[str] = []
    done = threading.Event()

    def on_overrun(attempt: Attempt) -> None:
        overran.append(attempt.invocation_id)
        done.set()

    watch = RunningWatch(app, "w", on_overrun=on_overrun)
    began = time.monotonic()
    watch.add(Attempt("late", "mod.task", timeout=0.1))
    watch.add(Attempt("never", "mod.task", timeout=None))
    assert done.wait(5)
    assert time.monotonic() - began >= 0.1 and overran == ["late"]
    time.sleep(0.1)
    watch.stop()
    assert backend.reads == [] and overran == ["late"]  # not polling: no reads at all


def test_the_watch_checks_cancellations_in_one_read_while_it_runs_something(
    watched_app: tuple[Pynenc, CountingBackend],
) -> None:
    app, backend = watched_app
    records = [InvocationRecord(f"inv-{i}", "mod.task", {}) for i in range(3)]
    backend.register(records, time.time())
    cancelled: list[str] = []
    seen = threading.Event()

    def on_cancelled(attempt: Attempt) -> None:
        cancelled.append(attempt.invocation_id)
        seen.set()

    watch = RunningWatch(app, "w", on_overrun=lambda a: None, on_cancelled=on_cancelled)
    time.sleep(0.15)
    assert backend.reads == []  # idle: no reads
    attempts = [Attempt(r.invocation_id, "mod.task") for r in records]
    for attempt in attempts:
        watch.add(attempt)
    time.sleep(0.15)
    assert backend.reads and set(backend.reads) == {3}  # every check: one read of all three
    update = StatusUpdate(
        "inv-1", frozenset({S.REGISTERED}), StatusEntry(S.CANCELLED, time.time(), "t")
    )
    assert backend.set_status(update)
    assert seen.wait(5) and cancelled == ["inv-1"]
    for attempt in attempts:
        watch.discard(attempt)
    time.sleep(0.1)
    reads = len(backend.reads)
    time.sleep(0.2)
    assert len(backend.reads) == reads  # nothing running: no more reads
    watch.stop()


def _sleeps(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def test_the_soft_limit_signal_interrupts_the_body_only() -> None:
    """In the main thread (pytest's): raised inside the body's sleep; after the body has
    returned (the attempt settled), the signal does nothing."""
    attempt = Attempt("inv", "mod.task", timeout=30, soft_timeout=0.1)
    began = time.monotonic()
    with pytest.raises(SoftTimeoutExceeded), soft_limit_signal(attempt, _sleeps):
        _sleeps(10)
    assert time.monotonic() - began < 5
    outside = Attempt("inv", "mod.task", soft_timeout=0.05)
    with soft_limit_signal(outside, _sleeps):
        time.sleep(0.2)  # not the body: it waits for the body, which never comes
        assert outside.settle(BODY)
        assert _sleeps(0.1) == "slept"  # settled: nothing raised any more


@pytest.fixture
def sync_limits() -> Iterator[Pynenc]:
    deadlines.app.conf.dev_mode_force_sync_tasks = True
    yield deadlines.app
    deadlines.app.conf.dev_mode_force_sync_tasks = False


def test_sync_mode_cancel(sync_limits: Pynenc) -> None:
    finished = deadlines.add(1, 2)
    answer = finished.cancel()
    assert not answer and answer.status is InvocationStatus.SUCCESS
    assert finished.result == 3 and not finished.cancelled
    cancelled = deadlines.cancels_itself(10)
    assert cancelled.status is InvocationStatus.CANCELLED and cancelled.cancelled
    with pytest.raises(InvocationCancelledError, match="enough"):
        _ = cancelled.result
    entry = cancelled.history[-1]
    assert entry.status is S.CANCELLED and entry.reason == "enough"
    assert (entry.runner_id or "").startswith(f"invocation {cancelled.invocation_id}")
