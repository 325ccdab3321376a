"""Hard and soft time limits with real runners (memory, SQLite, Redis).

A task past its hard ``timeout`` fails with ``TaskTimeoutError`` within the limit plus a
margin; a process runner kills the work (a child; a pool worker, then replaced), a thread
runner stops waiting for it. Every runner keeps serving with its one slot afterwards. A
task past its ``soft_timeout`` gets ``SoftTimeoutExceeded`` and cleans up.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pynenc import InvocationStatus, SoftTimeoutExceeded, TaskTimeoutError
from pynenc.runner.thread import ThreadRunner
from tests.apps import deadlines
from tests.integration.deployments import wait_until
from tests.integration.limits_helpers import (
    MARGIN,
    alive,
    deployment,
    memory_runner,
    release,
    runner,
    workdir,
)

S = InvocationStatus
RUNNERS = ["ThreadRunner", "ProcessRunner", "PersistentProcessRunner", "MultiThreadRunner"]


def _late(invocation_id: str, woke: float) -> float:
    """Seconds between the hard limit (from the attempt's RUNNING entry) and the waiter
    seeing the error."""
    history = deadlines.app.state_backend.history(invocation_id)
    began = [e.timestamp for e in history if e.status is S.RUNNING][-1]
    return woke - (began + deadlines.HARD)


@pytest.mark.parametrize("runner_cls", RUNNERS)
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_hard_limit_fails_the_invocation_and_the_runner_keeps_serving(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dep = deployment(kind, tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, runner_cls, tmp_path).start()
    try:
        invocation = deadlines.overrun(work)
        with pytest.raises(
            TaskTimeoutError, match=rf"time limit of {deadlines.HARD:g} s"
        ) as raised:
            invocation.get_result(timeout=120)
        late = _late(invocation.invocation_id, time.time())
        assert late < MARGIN, process.log_tail()
        assert isinstance(raised.value, TimeoutError) and raised.value.limit == deadlines.HARD
        assert invocation.status is S.FAILED
        # one slot: the next task runs only if the slot was given back
        assert deadlines.add(1, 2).get_result(timeout=120) == 3, process.log_tail()
        pid = deadlines.started_pid(work)
        assert pid is not None
        if runner_cls == "ThreadRunner":
            assert "its thread runs on" in str(raised.value)
            release(work)  # the thread returns; what it returns is discarded
            wait_until(
                lambda: "its outcome is discarded" in process.log_tail(), 60, "the late outcome"
            )
            assert "returned" in deadlines.events(work)
        else:
            wait_until(lambda: not alive(pid), 60, f"the overrunning process {pid} to be gone")
            assert "returned" not in deadlines.events(work)
        assert app.state_backend.get(invocation.invocation_id).status is S.FAILED  # type: ignore[union-attr]
    finally:
        release(work)
        code = process.stop()
        app.reset_components()
    assert code == 0, process.log_tail()
    print(f"{kind} {runner_cls}: error seen {late * 1000:.0f} ms after the hard limit")


def test_hard_limit_on_a_thread_runner_frees_the_slot(tmp_path: Path) -> None:
    """memory://: the slot count is right after the runner stops waiting, and the thread's
    late outcome never overwrites the timeout."""
    work = workdir(tmp_path)
    with memory_runner(threads=1) as (_, running):
        assert isinstance(running, ThreadRunner)
        invocation = deadlines.overrun(work)
        with pytest.raises(TaskTimeoutError):
            invocation.get_result(timeout=60)
        assert deadlines.add(2, 3).get_result(timeout=30) == 5
        # the add job frees its slot just after its outcome is stored (the caller may see
        # the result first); the overrun job's thread still runs, so a leaked slot stays 1
        wait_until(lambda: running._busy == 0, 30, "the slots to be free again")
        release(work)
        wait_until(lambda: "returned" in deadlines.events(work), 30, "the thread to return")
        wait_until(lambda: not running._jobs, 30, "the late job to end")
        assert running._busy == 0
        assert invocation.status is S.FAILED
        assert deadlines.add(3, 4).get_result(timeout=30) == 7


@pytest.mark.parametrize(
    ("kind", "runner_cls"), [("sqlite", "ProcessRunner"), ("memory", "ThreadRunner")]
)
def test_a_timeout_is_retried_when_retry_for_lists_it(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = workdir(tmp_path)
    if kind == "memory":
        with memory_runner(threads=1) as (app, _):
            invocation = deadlines.overrun_once(work)
            assert invocation.get_result(timeout=60) == "second attempt"
            history = app.state_backend.history(invocation.invocation_id)
            release(work)
    else:
        dep = deployment(kind, tmp_path, request)
        app = dep.configure(deadlines.app)
        app.purge()
        process = runner(dep, runner_cls, tmp_path).start()
        try:
            invocation = deadlines.overrun_once(work)
            assert invocation.get_result(timeout=120) == "second attempt", process.log_tail()
            history = app.state_backend.history(invocation.invocation_id)
        finally:
            release(work)
            assert process.stop() == 0, process.log_tail()
            app.reset_components()
    retries = [e for e in history if e.status is S.RETRY]
    assert len(retries) == 1 and "TaskTimeoutError" in (retries[0].reason or ""), history
    assert len([e for e in deadlines.events(work) if e.startswith("started")]) == 2


@pytest.mark.parametrize(
    ("kind", "runner_cls", "cooperative"),
    [
        ("sqlite", "ProcessRunner", False),
        ("redis", "ProcessRunner", False),
        ("redis", "PersistentProcessRunner", False),
    ],
)
def test_soft_limit_lets_the_task_clean_up(
    kind: str,
    runner_cls: str,
    cooperative: bool,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """A ProcessRunner child, and a one-slot pool worker (its main thread), get it by
    signal in the middle of a plain ``time.sleep``."""
    dep = deployment(kind, tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, runner_cls, tmp_path).start()
    try:
        invocation = deadlines.soft_cleanup(work, cooperative)
        assert invocation.get_result(timeout=120) == "cleaned up", process.log_tail()
        assert deadlines.events(work)[-1] == "cleaned up"
        assert deadlines.add(1, 1).get_result(timeout=60) == 2
    finally:
        assert process.stop() == 0, process.log_tail()
        app.reset_components()


def test_soft_limit_in_a_thread_runner_reaches_the_checkpoint(tmp_path: Path) -> None:
    work = workdir(tmp_path)
    with memory_runner(threads=1):
        began = time.monotonic()
        assert deadlines.soft_cleanup(work, True).get_result(timeout=60) == "cleaned up"
        assert time.monotonic() - began >= deadlines.SOFT
    assert deadlines.events(work)[-1] == "cleaned up"


def test_a_late_outcome_never_lands_on_the_retry(tmp_path: Path) -> None:
    """The retry of an overrun runs under the same runner (same owner in the backend); the
    first attempt's thread returning meanwhile must not record its outcome on it."""
    work = workdir(tmp_path)
    with memory_runner(threads=1):
        invocation = deadlines.overrun_then_race(work)
        wait_until(
            lambda: sum(e.startswith("started") for e in deadlines.events(work)) == 2,
            60,
            "the retry to start",
        )
        release(work)  # the first attempt returns while the retry runs
        assert invocation.get_result(timeout=60) == "second attempt"
    assert "first returned" in deadlines.events(work)


def test_soft_limit_of_an_async_task_in_a_process_runner(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dep = deployment("sqlite", tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, "ProcessRunner", tmp_path).start()
    try:
        invocation = deadlines.soft_async(work)
        with pytest.raises(SoftTimeoutExceeded):
            invocation.get_result(timeout=120)
        assert deadlines.events(work)[-1] == "cleaned up"
    finally:
        assert process.stop() == 0, process.log_tail()
        app.reset_components()
