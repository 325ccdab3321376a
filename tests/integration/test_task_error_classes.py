"""A ``Task`` subclass choosing the errors of its invocations (``soft_timeout_error``,
``timeout_error``, ``cancelled_error``), here subclasses of Celery's own classes as the
Celery layer sets them: the task catches Celery's soft-limit class, and waiters get Celery's
hard-limit and revoked classes, on a thread runner and on a process runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.exceptions import TaskRevokedError

from pynenc import InvocationStatus
from tests.apps import seams
from tests.integration.deployments import wait_until
from tests.integration.seams_helpers import deployed

S = InvocationStatus
#: a thread runner in this process (memory://), a process runner of the CLI (SQLite)
RUNNERS = [("memory", "ThreadRunner"), ("sqlite", "ProcessRunner")]


def _workdir(tmp_path: Path) -> str:
    work = tmp_path / "work"
    work.mkdir()
    return str(work)


def _release(work: str) -> None:
    (Path(work) / "release").touch()


def _started(work: str) -> bool:
    return any(e.startswith("started") for e in seams.events(work))


@pytest.mark.parametrize(("kind", "runner_cls"), RUNNERS)
def test_the_soft_limit_raises_the_task_classes_error(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = _workdir(tmp_path)
    cooperative = runner_cls == "ThreadRunner"  # a thread sees it at a checkpoint
    with deployed(kind, runner_cls, tmp_path, request) as (_, _, runner):
        try:
            invocation = seams.soft_limited(work, cooperative)
            assert invocation.get_result(timeout=120) == "SoftLimit"
        finally:
            _release(work)
    log = runner.log_tail() if runner is not None else ""
    # caught as Celery's class, and the limit is reachable on it
    assert f"soft SoftLimit {seams.SOFT}" in seams.events(work), log
    assert issubclass(seams.SoftLimit, SoftTimeLimitExceeded)


@pytest.mark.parametrize(("kind", "runner_cls"), RUNNERS)
def test_the_hard_limit_reaches_the_waiter_as_the_task_classes_error(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = _workdir(tmp_path)
    with deployed(kind, runner_cls, tmp_path, request) as (app, _, _):
        try:
            invocation = seams.hard_limited(work)
            with pytest.raises(TimeLimitExceeded) as raised:
                invocation.get_result(timeout=120)
            assert type(raised.value) is seams.HardLimit
            assert getattr(raised.value, "limit", None) == seams.HARD
            assert f"time limit of {seams.HARD:g} s" in str(raised.value)
            assert invocation.status is S.FAILED
            record = app.state_backend.get(invocation.invocation_id)
            assert record is not None and record.error is not None
            assert record.error["type"] == "tests.apps.seams.HardLimit"
        finally:
            _release(work)


@pytest.mark.parametrize(("kind", "runner_cls"), RUNNERS)
def test_a_cancellation_reaches_the_waiter_and_the_task_as_the_task_classes_error(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = _workdir(tmp_path)
    with deployed(kind, runner_cls, tmp_path, request):
        try:
            invocation = seams.cancellable(work)
            wait_until(lambda: _started(work), 120, "the task to start")
            answer = invocation.cancel(reason="no longer needed")
            assert answer.cancelled
            with pytest.raises(TaskRevokedError) as raised:
                invocation.get_result(timeout=60)
            error = raised.value
            assert type(error) is seams.Revoked
            assert getattr(error, "reason", None) == "no longer needed"
            assert getattr(error, "invocation_id", None) == invocation.invocation_id
            assert invocation.status is S.CANCELLED
            if runner_cls == "ThreadRunner":  # the task itself got it from checkpoint()
                wait_until(lambda: "stopped Revoked" in seams.events(work), 60, "the task to stop")
            # a process runner's child sees it at a checkpoint too, or is killed first
        finally:
            _release(work)
