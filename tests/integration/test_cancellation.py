"""Durable cancellation with real runners (memory, SQLite, Redis).

Before the start: it never runs (the claim refuses it). Running on a process runner: the
child is killed (a pool worker retires and is replaced). Running on a thread runner: the
task stops at its next ``checkpoint()``. After the end: nothing changes, and the answer
says so. Waiters get ``InvocationCancelledError`` naming who cancelled.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pynenc import InvocationCancelledError, InvocationStatus
from pynenc.runner.thread import ThreadRunner
from tests.apps import deadlines
from tests.integration.deployments import ROOT, Deployment, wait_until
from tests.integration.limits_helpers import (
    APP,
    MARGIN,
    alive,
    deployment,
    memory_app,
    memory_runner,
    release,
    runner,
    workdir,
)

S = InvocationStatus


def _started(directory: str) -> int:
    wait_until(lambda: deadlines.started_pid(directory), 120, "the task to start")
    pid = deadlines.started_pid(directory)
    assert pid is not None
    return pid


@pytest.mark.parametrize(
    ("kind", "runner_cls"),
    [("memory", "ThreadRunner"), ("sqlite", "ProcessRunner"), ("redis", "ThreadRunner")],
)
def test_cancelled_before_it_starts_it_never_runs(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = workdir(tmp_path)
    if kind == "memory":
        app = memory_app()
    else:
        dep = deployment(kind, tmp_path, request)
        app = dep.configure(deadlines.app)
        app.purge()
    invocation = deadlines.sleeper(work)
    answer = invocation.cancel("not needed any more")
    assert answer and answer.previous is S.REGISTERED and answer.status is S.CANCELLED
    with pytest.raises(InvocationCancelledError, match="not needed any more") as raised:
        invocation.get_result(timeout=5)
    assert raised.value.cancelled_by and raised.value.invocation_id == invocation.invocation_id
    if kind == "memory":
        with app.running_in_background(stop_timeout=60):
            assert deadlines.add(1, 2).get_result(timeout=60) == 3
    else:
        process = runner(dep, runner_cls, tmp_path).start()
        try:
            # the cancelled message was published first: the runner met it before this one
            assert deadlines.add(1, 2).get_result(timeout=120) == 3
            wait_until(
                lambda: f"Not running {invocation.invocation_id}" in process.log_tail(),
                30,
                "the refused claim in the log",
            )
        finally:
            assert process.stop() == 0, process.log_tail()
    assert deadlines.events(work) == []
    statuses = [e.status for e in app.state_backend.history(invocation.invocation_id)]
    assert statuses == [S.REGISTERED, S.CANCELLED]
    app.reset_components()


@pytest.mark.parametrize(
    ("kind", "runner_cls"),
    [
        ("sqlite", "ProcessRunner"),
        ("redis", "ProcessRunner"),
        ("sqlite", "PersistentProcessRunner"),
        ("redis", "MultiThreadRunner"),
    ],
)
def test_cancelled_while_running_on_a_process_runner_its_process_is_stopped(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dep = deployment(kind, tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, runner_cls, tmp_path).start()
    try:
        invocation = deadlines.sleeper(work)  # never cooperates: only a kill stops it
        pid = _started(work)
        began = time.monotonic()
        answer = invocation.cancel(reason="a test", by="the test")
        assert answer and answer.previous is S.RUNNING, answer
        wait_until(lambda: not alive(pid), 60, f"process {pid} to be stopped")
        stopped = time.monotonic() - began
        assert stopped < MARGIN, process.log_tail()
        with pytest.raises(InvocationCancelledError, match="cancelled by the test"):
            invocation.get_result(timeout=5)
        # one slot: it serves again (a pool runner: with a new worker)
        assert deadlines.add(2, 2).get_result(timeout=120) == 4, process.log_tail()
        assert "returned" not in deadlines.events(work)
    finally:
        release(work)
        code = process.stop()
    history = app.state_backend.history(invocation.invocation_id)
    app.reset_components()
    assert code == 0, process.log_tail()
    assert [e.status for e in history][-2:] == [S.RUNNING, S.CANCELLED]  # never rerouted
    assert (history[-1].runner_id, history[-1].reason) == ("the test", "a test")
    print(f"{kind} {runner_cls}: process stopped {stopped * 1000:.0f} ms after cancel()")


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_cancelled_while_running_on_a_thread_runner_the_task_sees_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = workdir(tmp_path)
    if kind == "memory":
        with memory_runner(threads=1) as (app, running):
            assert isinstance(running, ThreadRunner)
            invocation = deadlines.cooperative(work)
            _started(work)
            assert invocation.cancel()
            with pytest.raises(InvocationCancelledError):
                invocation.get_result(timeout=5)
            wait_until(lambda: "stopped" in deadlines.events(work), 30, "the task to stop")
            assert deadlines.add(1, 1).get_result(timeout=30) == 2  # the slot is free again
            wait_until(lambda: running._busy == 0, 30, "the slot count to settle")
            assert invocation.status is S.CANCELLED
        app.reset_components()
        return
    dep = deployment(kind, tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    process = runner(dep, "ThreadRunner", tmp_path).start()
    try:
        invocation = deadlines.cooperative(work)
        _started(work)
        assert invocation.cancel()
        wait_until(lambda: "stopped" in deadlines.events(work), 60, "the task to stop")
        assert deadlines.add(1, 1).get_result(timeout=60) == 2
        wait_until(lambda: "it was cancelled" in process.log_tail(), 30, "the INFO line")
    finally:
        assert process.stop() == 0, process.log_tail()
    assert app.state_backend.get(invocation.invocation_id).status is S.CANCELLED  # type: ignore[union-attr]
    app.reset_components()


def test_a_thread_runner_frees_the_slot_of_a_non_cooperative_task_when_it_returns(
    tmp_path: Path,
) -> None:
    """The waiter learns at once; the slot stays taken until the body returns (a thread
    cannot be stopped), then its outcome is refused."""
    work = workdir(tmp_path)
    with memory_runner(threads=1) as (_, running):
        assert isinstance(running, ThreadRunner)
        invocation = deadlines.sleeper(work)
        _started(work)
        assert invocation.cancel()
        with pytest.raises(InvocationCancelledError):
            invocation.get_result(timeout=5)
        assert running._busy == 1
        waiting = deadlines.add(5, 5)
        release(work)
        assert waiting.get_result(timeout=30) == 10
        assert invocation.status is S.CANCELLED
        assert "returned" in deadlines.events(work)


def test_cancelling_a_finished_invocation_changes_nothing() -> None:
    with memory_runner(threads=1):
        invocation = deadlines.add(1, 2)
        assert invocation.get_result(timeout=30) == 3
        answer = invocation.cancel()
        assert not answer and answer.status is S.SUCCESS and answer.previous is S.SUCCESS
        assert "already finished (SUCCESS); nothing changed" in answer.message
        assert invocation.result == 3
        assert [e.status for e in invocation.history][-1] is S.SUCCESS


def _cli(dep: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, *args],
        env=dep.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_cancel_and_status(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    dep = deployment("sqlite", tmp_path, request)
    app = dep.configure(deadlines.app)
    app.purge()
    work = workdir(tmp_path)
    process = runner(dep, "ProcessRunner", tmp_path).start()
    try:
        invocation = deadlines.sleeper(work)
        pid = _started(work)
        cancelled = _cli(dep, "cancel", invocation.invocation_id, "--reason", "from the CLI")
        assert cancelled.returncode == 0, cancelled.stderr
        assert f"Cancelled invocation {invocation.invocation_id}" in cancelled.stdout
        assert "(was RUNNING)" in cancelled.stdout
        wait_until(lambda: not alive(pid), 60, "the child to be stopped")
        again = _cli(dep, "cancel", invocation.invocation_id)
        assert again.returncode == 3, again.stderr
        assert "already finished (CANCELLED); nothing changed" in again.stdout
        unknown = _cli(dep, "cancel", "0" * 32)
        assert unknown.returncode == 1 and "not known" in unknown.stderr
        overran = deadlines.overrun(workdir(tmp_path, "overrun"))
        app.orchestrator.wait_final(overran.invocation_id, 120)
    finally:
        release(work)
        assert process.stop() == 0, process.log_tail()
    shown = _cli(dep, "status", invocation.invocation_id)
    assert shown.returncode == 1
    assert "status      CANCELLED" in shown.stdout
    assert "cancelled   by pynenc cancel (" in shown.stdout and "from the CLI" in shown.stdout
    assert "InvocationCancelledError" in shown.stdout
    limited = _cli(dep, "status", overran.invocation_id)
    assert f"limits      timeout {deadlines.HARD:g} s" in limited.stdout
    assert "TaskTimeoutError" in limited.stdout
    app.reset_components()
