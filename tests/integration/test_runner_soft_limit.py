"""The soft time limit in pool worker processes (SQLite, Redis).

A worker process with one slot (every ``PersistentProcessRunner`` worker, a
``MultiThreadRunner``'s with ``--threads 1``) runs its invocation in its main thread: the
soft limit is raised by SIGALRM inside the task, even in a plain ``time.sleep`` or while it
waits for another invocation, and the worker keeps serving (it is not replaced). A worker
with several threads keeps it cooperative (``checkpoint()``). Hard limits, cancellation and
stops of these workers are covered with the other runners (``test_time_limits``,
``test_cancellation``, ``test_runner_signals``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pynenc import TaskTimeoutError
from tests.apps import deadlines
from tests.integration.deployments import RunnerProcess, wait_until
from tests.integration.limits_helpers import (
    APP,
    alive,
    deployment,
    release,
    runner,
    workdir,
)


@pytest.mark.parametrize(
    ("kind", "runner_cls"),
    [
        ("sqlite", "PersistentProcessRunner"),
        ("redis", "PersistentProcessRunner"),
        ("redis", "MultiThreadRunner"),
    ],
)
def test_a_one_slot_worker_raises_the_soft_limit_in_a_sleep(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dep = deployment(kind, tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, runner_cls, tmp_path).start()
    try:
        began = time.monotonic()
        invocation = deadlines.soft_cleanup(work, False)  # one time.sleep(120), no checkpoint
        assert invocation.get_result(timeout=100) == "cleaned up", process.log_tail()
        assert time.monotonic() - began < deadlines.LONG
        assert deadlines.events(work)[-1] == "cleaned up"
        # the same worker process serves on: a soft limit retires nothing
        assert deadlines.whoami().get_result(timeout=60) == deadlines.started_pid(work)
        assert deadlines.soft_sleep(0.1).get_result(timeout=60) == "slept"
        assert deadlines.soft_sleep(30).get_result(timeout=60) == "soft limit caught"
    finally:
        assert process.stop() == 0, process.log_tail()
        app.reset_components()


def test_the_soft_limit_interrupts_a_wait_for_another_invocation(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The waiting task's slot is lent meanwhile (the awaited one runs on a thread of the
    worker); interrupted in its wait, the task gives the slot back and the worker serves on."""
    dep = deployment("redis", tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, "PersistentProcessRunner", tmp_path).start()
    try:
        invocation = deadlines.soft_waits_on(work)
        assert invocation.get_result(timeout=100) == "gave up waiting", process.log_tail()
        release(work)  # the awaited one returns on its thread
        wait_until(
            lambda: "returned" in deadlines.events(work), 60, "the awaited invocation to return"
        )
        assert deadlines.add(2, 3).get_result(timeout=60) == 5
        assert deadlines.soft_sleep(30).get_result(timeout=60) == "soft limit caught"
        # one slot again: two sleeps one after the other, not side by side
        first, second = deadlines.soft_sleep(0.3), deadlines.soft_sleep(0.3)
        assert first.get_result(timeout=60) == second.get_result(timeout=60) == "slept"
    finally:
        release(work)
        assert process.stop() == 0, process.log_tail()
        app.reset_components()


def test_a_worker_with_several_threads_keeps_the_soft_limit_cooperative(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dep = deployment("redis", tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = RunnerProcess(
        dep,
        "MultiThreadRunner",
        "--threads",
        "2",
        "--processes",
        "1",
        log=tmp_path / "runner.log",
        app_ref=APP,
    ).start()
    try:
        assert deadlines.soft_sleep(2).get_result(timeout=60) == "slept", process.log_tail()
        assert deadlines.soft_cleanup(work, True).get_result(timeout=60) == "cleaned up"
    finally:
        assert process.stop() == 0, process.log_tail()
        app.reset_components()


def test_a_task_past_its_hard_limit_in_the_main_thread_leaves_with_its_worker(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The main thread cannot be abandoned: the worker retires (exit code 75) with the task
    still inside, and a new worker serves."""
    dep = deployment("sqlite", tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, "PersistentProcessRunner", tmp_path).start()
    try:
        with pytest.raises(TaskTimeoutError):
            deadlines.overrun(work).get_result(timeout=100)
        pid = deadlines.started_pid(work)
        assert pid is not None
        wait_until(lambda: not alive(pid), 60, f"the worker {pid} to exit")
        wait_until(lambda: "retired itself" in process.log_tail(), 30, "the supervisor's log")
        assert deadlines.whoami().get_result(timeout=100) != pid
        assert "returned" not in deadlines.events(work)
    finally:
        release(work)
        assert process.stop() == 0, process.log_tail()
        app.reset_components()
