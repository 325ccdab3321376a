"""Compositions survive runners that die: nothing is lost, nothing runs twice.

Real runner processes (``RunnerProcess``) on SQLite and Redis. Runs are counted in a file
outside the runners. The seam of ``tests.apps.canvas`` (``CANVAS_DIE_BEFORE_PUBLISH=1``)
makes a runner process ``os._exit(9)`` right after the final write of an invocation that
released a follower, before it publishes that follower: the moment a kill loses the most.
The follower is then SCHEDULED, due at once, and the scheduler of whichever runner holds
the services lease publishes it.

- ThreadRunner: the runner itself dies; a second runner (without the seam) takes over.
- ProcessRunner: the worker process dies; its runner lives on and publishes the follower.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pynenc import InvocationStatus, chain, chord
from pynenc.compose import Handle
from tests.apps import canvas as t
from tests.apps.canvas import lines
from tests.integration.compose_helpers import APP, TIMEOUT, deployment, result_of, statuses
from tests.integration.deployments import Deployment, RunnerProcess, wait_until

S = InvocationStatus
SEAM = {"CANVAS_DIE_BEFORE_PUBLISH": "1"}
RUNNERS = [
    ("sqlite", "ThreadRunner"),
    ("sqlite", "ProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]
ONE_SLOT = ("--threads", "1", "--processes", "1")


@pytest.fixture(params=RUNNERS, ids=lambda p: f"{p[0]}-{p[1]}")
def setting(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Deployment, str]]:
    kind, runner_cls = request.param
    dep = deployment(kind, tmp_path, request)
    app = dep.configure(t.app)
    app.conf.dev_mode_force_sync_tasks = False
    app.purge()
    try:
        yield dep, runner_cls
    finally:
        app.reset_components()


@contextmanager
def runner(
    dep: Deployment, runner_cls: str, tmp_path: Path, name: str, env: dict[str, str]
) -> Iterator[RunnerProcess]:
    """A CLI runner of ``tests.apps.canvas`` with ``env`` added; killed (if still alive)
    when the block ends."""
    with_env = Deployment(
        dep.name,
        dep.broker_url,
        dep.state_backend_url,
        dep.runner_settings,
        dep.broker_transport_options,
        {**dep.extra_env, **env},
    )
    process = RunnerProcess(
        with_env, runner_cls, *ONE_SLOT, log=tmp_path / f"{name}.log", app_ref=APP
    ).start()
    try:
        yield process
    finally:
        process.signal(signal.SIGKILL)
        assert process.process is not None
        process.process.wait(timeout=30)


def _published_by_the_scheduler(invocation_id: str) -> bool:
    """Whether the scheduler published it (a runner that ended what it waited for would
    have said "released by ...")."""
    entries = t.app.state_backend.history(invocation_id)
    published = [e for e in entries if e.status is S.REGISTERED]
    return len(published) == 1 and (published[0].reason or "").startswith("due")


def _survive_the_seam(
    dep: Deployment, runner_cls: str, tmp_path: Path, run: Handle, released: str
) -> object:
    """Run ``run`` with a runner that dies (or loses its worker) right after an end that
    released ``released``; its result, with a second runner when the first died."""
    with runner(dep, runner_cls, tmp_path, "seamed", SEAM) as first:
        if runner_cls == "ThreadRunner":
            assert first.process is not None
            assert first.process.wait(timeout=TIMEOUT) == 9, first.log_tail()
            record = t.app.state_backend.get(released)
            assert record is not None and record.status is S.SCHEDULED, record
            with runner(dep, runner_cls, tmp_path, "second", {}) as second:
                try:
                    return result_of(run)
                finally:
                    assert second.stop() == 0, second.log_tail()
        return result_of(run)  # its runner outlives the worker and publishes it


def test_a_chain_step_released_by_a_dying_runner_runs_once(
    setting: tuple[Deployment, str], tmp_path: Path
) -> None:
    dep, runner_cls = setting
    counter = str(tmp_path / "runs")
    run = chain(
        t.tally.sig(0, counter, "s1"), t.tally.sig(counter, "s2"), t.tally.sig(counter, "s3")
    ).run()
    second = run.steps[1].invocation_id  # type: ignore[union-attr]
    assert _survive_the_seam(dep, runner_cls, tmp_path, run, second) == 3
    assert statuses(t.app, run) == [S.SUCCESS] * 3
    assert sorted(lines(counter)) == ["s1", "s2", "s3"], "each step ran once"
    assert _published_by_the_scheduler(second)


def test_a_chord_body_released_by_a_dying_runner_runs_once(
    setting: tuple[Deployment, str], tmp_path: Path
) -> None:
    dep, runner_cls = setting
    counter = str(tmp_path / "runs")
    members = [t.tally.sig(i, counter, f"m{i}") for i in range(4)]
    run = chord(members, t.gather.sig(counter, "body")).run()
    body = run.last.invocation_id  # type: ignore[union-attr]
    assert _survive_the_seam(dep, runner_cls, tmp_path, run, body) == 10
    assert statuses(t.app, run) == [S.SUCCESS] * 5
    assert sorted(lines(counter)) == ["body", "m0", "m1", "m2", "m3"], "each ran once"
    assert _published_by_the_scheduler(body)


def test_a_runner_killed_while_running_a_chain_step(
    setting: tuple[Deployment, str], tmp_path: Path
) -> None:
    """kill -9 mid-step: recovery reroutes the step, it runs again, the next runs once."""
    dep, runner_cls = setting
    counter = str(tmp_path / "runs")
    gate = tmp_path / f"gate-{uuid.uuid4().hex}"
    run = chain(
        t.tally.sig(0, counter, "s1"),
        t.gated.sig(str(gate), counter, "s2"),
        t.tally.sig(counter, "s3"),
    ).run()
    held = run.steps[1].invocation_id  # type: ignore[union-attr]
    with runner(dep, runner_cls, tmp_path, "killed", {}) as first:
        wait_until(lambda: lines(counter) == ["s1", "s2"], TIMEOUT, "the held step to start")
        first.kill()
    gate.touch()
    record = t.app.state_backend.get(held)
    assert record is not None and record.status is S.RUNNING, "its runner died holding it"
    with runner(dep, runner_cls, tmp_path, "second", {}) as second:
        try:
            assert result_of(run) == 3
        finally:
            assert second.stop() == 0, second.log_tail()
    assert statuses(t.app, run) == [S.SUCCESS] * 3
    assert lines(counter) == ["s1", "s2", "s2", "s3"], "the held step again, then s3 once"
    assert S.REROUTED in [e.status for e in t.app.state_backend.history(held)]
