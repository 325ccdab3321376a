"""A workflow's children are called once, however often its body runs again.

``wf.execute_tasks`` registers its children as ``parallelize`` does (one backend write per
``parallel_batch_size`` calls, each under the id derived from the run and step), and a
replayed ``wf.execute_task`` / ``wf.execute_tasks`` step reads its children's records
instead of calling them again. Real runners (thread and process) on Redis and SQLite, an
in-process runner on memory; each child run appends a line to a file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import NonDeterministicWorkflowError
from pynenc.state_backend.base import StateBackend
from tests.apps import wf_children
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
APP_REF = "tests.apps.wf_children:app"
TIMEOUT = 60.0
WORKFLOWS = {"one_by_one": wf_children.one_by_one, "all_at_once": wf_children.all_at_once}
#: children per workflow: all_at_once's 10 go in batches of 4 (the child's parallel_batch_size)
N = 10


def _runs(counter: Path) -> Counter[int]:
    """How often each child ran."""
    text = counter.read_text() if counter.exists() else ""
    return Counter(int(line) for line in text.split())


def _status(app: Pynenc, invocation_id: str) -> InvocationStatus | None:
    record = app.state_backend.get(invocation_id)
    return None if record is None else record.status


def _paused_then_resumed(app: Pynenc, workflow: Any, counter: Path, **kwargs: Any) -> Any:
    """Run ``workflow`` to its pause, check each child ran once, resume it: the result."""
    invocation = workflow(str(counter), N, **kwargs)
    wait_until(lambda: _status(app, invocation.invocation_id) is S.PAUSED, TIMEOUT, "the pause")
    assert _runs(counter) == Counter(range(N))
    return app.workflows.resume(invocation.invocation_id).get_result(timeout=TIMEOUT)


def _deployment(kind: str, redis_server: Server, tmp_path: Path) -> Deployment:
    if kind == "redis":
        url = redis_server.db_url()
        return Deployment("redis", url, url)
    return Deployment("sqlite", f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
@pytest.mark.parametrize(
    ("kind", "runner_cls"),
    [("redis", "ThreadRunner"), ("redis", "ProcessRunner"), ("sqlite", "ThreadRunner")],
)
def test_a_resumed_workflow_calls_no_child_again(
    kind: str, runner_cls: str, workflow: str, redis_server: Server, tmp_path: Path
) -> None:
    deployment = _deployment(kind, redis_server, tmp_path)
    app = deployment.configure(wf_children.app)
    app.purge()
    runner = RunnerProcess(deployment, runner_cls, log=tmp_path / "r.log", app_ref=APP_REF)
    runner.start()
    try:
        counter = tmp_path / "runs"
        result = _paused_then_resumed(app, WORKFLOWS[workflow], counter)
        assert result == [i * 10 for i in range(N)], runner.log_tail()
        assert _runs(counter) == Counter(range(N)), "a replayed step called a child again"
    finally:
        assert runner.stop() == 0, runner.log_tail()


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_a_replay_that_passes_other_arguments_fails_and_calls_nothing(
    workflow: str, redis_server: Server, tmp_path: Path
) -> None:
    url = redis_server.db_url()
    deployment = Deployment("redis", url, url)
    app = deployment.configure(wf_children.app)
    app.purge()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "r.log", app_ref=APP_REF)
    runner.start()
    try:
        counter = tmp_path / "runs"
        invocation = WORKFLOWS[workflow](str(counter), N, drift=True)
        wait_until(lambda: _status(app, invocation.invocation_id) is S.PAUSED, TIMEOUT, "pause")
        Path(f"{counter}.drift").touch()  # the replay now passes other arguments
        resumed = app.workflows.resume(invocation.invocation_id)
        with pytest.raises(NonDeterministicWorkflowError, match="with other arguments"):
            resumed.get_result(timeout=TIMEOUT)
        assert _runs(counter) == Counter(range(N))
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_children_registered_before_the_step_was_recorded_run_once(
    redis_server: Server, tmp_path: Path
) -> None:
    """A runner that died after registering some of a step's children but before the step
    was recorded: the next attempt registers the others and reuses those (same ids)."""
    url = redis_server.db_url()
    deployment = Deployment("redis", url, url)
    app = deployment.configure(wf_children.app)
    app.purge()
    counter = tmp_path / "runs"
    # the ids wf.execute_tasks derives: <workflow>-wf<run>-<step>-<n>; step 1, run 1
    for n in (1, 6, 7):
        chosen = f"wf-held-wf1-1-{n}"
        wf_children.counted.with_options(invocation_id=chosen)(str(counter), n)
    workflow = wf_children.all_at_once.with_options(invocation_id="wf-held")
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "r.log", app_ref=APP_REF)
    runner.start()
    try:
        invocation = workflow(str(counter), N)
        wait_until(lambda: _status(app, invocation.invocation_id) is S.PAUSED, TIMEOUT, "pause")
        assert _runs(counter) == Counter(range(N)), runner.log_tail()
    finally:
        assert runner.stop() == 0, runner.log_tail()


# -- in process, on memory: what the steps write ----------------------------------------------


@pytest.fixture
def memory_app() -> Iterator[Pynenc]:
    app = Deployment("memory", "memory://", "memory://").configure(wf_children.app)
    app.purge()
    with app.running_in_background(stop_timeout=30):
        yield app


def _spy_registrations(monkeypatch: pytest.MonkeyPatch, backend: StateBackend) -> list[int]:
    """The size of every ``register`` write of ``counted`` calls on ``backend``, in order."""
    writes: list[int] = []
    original = backend.register
    key = wf_children.counted.task_id.key

    def register(records: Any, *args: Any, **kwargs: Any) -> Any:
        records = list(records)
        if any(r.task_id == key for r in records):
            writes.append(len(records))
        return original(records, *args, **kwargs)

    monkeypatch.setattr(backend, "register", register)
    return writes


@pytest.mark.parametrize(
    ("workflow", "first_run"), [("one_by_one", [1] * N), ("all_at_once", [4, 4, 2])]
)
def test_steps_register_children_in_batches_and_replays_register_none(
    memory_app: Pynenc,
    workflow: str,
    first_run: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes = _spy_registrations(monkeypatch, memory_app.state_backend)
    counter = tmp_path / "runs"
    invocation = WORKFLOWS[workflow](str(counter), N)
    wait_until(lambda: invocation.status is S.PAUSED, TIMEOUT, "the pause")
    assert writes == first_run
    assert _runs(counter) == Counter(range(N))
    resumed = memory_app.workflows.resume(invocation.invocation_id)
    assert resumed.get_result(timeout=TIMEOUT) == [i * 10 for i in range(N)]
    assert writes == first_run, "a replayed step registered its children again"
    assert _runs(counter) == Counter(range(N))
