"""``app.invocation(id)``: a handle from an id alone, on every state backend.

The invocations run on a real ThreadRunner (in this process, so a task can be held on an
Event) over memory, SQLite and Redis state; a ProcessRunner started through the CLI makes
the invocations read from another process's point of view. "Client" apps share the
app id and URLs but register no task, as a process that only looks results up would.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pynenc import (
    InvocationStatus,
    InvocationTimeoutError,
    Pynenc,
    SerializationError,
    TaskNotFoundError,
)
from pynenc.exceptions import InvocationNotFoundError
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.records import InvocationRecord
from tests.apps import by_id, deploy
from tests.integration.deployments import Deployment, RunnerProcess
from tests.servers import Server

S = InvocationStatus
STATES: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "memory": lambda request, tmp: "memory://",
    "sqlite": lambda request, tmp: f"sqlite:///{tmp}/state.db",
    "redis": lambda request, tmp: request.getfixturevalue("redis_server").db_url(),
}


@pytest.fixture(params=list(STATES))
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return STATES[request.param](request, tmp_path)


@pytest.fixture
def app(state_url: str) -> Iterator[Pynenc]:
    """``tests.apps.by_id`` on ``state_url`` (memory:// broker), its runner in a thread."""
    app = by_id.app
    app.reset_components()
    app.conf.state_backend_url = state_url
    app.conf.broker_url = "memory://"
    app.purge()
    try:
        with app.running_in_background(stop_timeout=30):
            yield app
    finally:
        app.purge()
        app.state_backend.close()
        app.reset_components()
        app.conf.state_backend_url = "memory://"


def _client(app: Pynenc, **options: object) -> Pynenc:
    """Another app object of the same deployment that knows none of the tasks."""
    return Pynenc(
        {"broker_url": app.conf.broker_url, "state_backend_url": app.conf.state_backend_url}
        | options,
        app_id=app.app_id,
    )


def test_status_history_and_result_from_the_id(app: Pynenc) -> None:
    made = by_id.add(2, 3)
    assert made.get_result(timeout=30) == 5
    handle = app.invocation(made.invocation_id)
    assert isinstance(handle, DistributedInvocation)
    assert handle.invocation_id == made.invocation_id
    assert handle.status is S.SUCCESS and handle.num_retries == 0
    assert [e.status for e in handle.history] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
    assert handle.result == 5 and handle.get_result(timeout=1) == 5
    assert asyncio.run(handle.async_result()) == 5
    assert handle.task is by_id.add  # registered here: attached at once
    assert handle.arguments.kwargs == {"x": 2, "y": 3}
    assert handle.task_key == "tests.apps.by_id.add"
    assert repr(handle) == f"DistributedInvocation(tests.apps.by_id.add, id={made.invocation_id})"


def test_waits_for_an_invocation_still_running(app: Pynenc) -> None:
    key = uuid.uuid4().hex
    by_id.RELEASE[key] = threading.Event()
    made = by_id.held(key)
    handle = app.invocation(made.invocation_id)
    assert handle.status in (S.REGISTERED, S.RUNNING)
    with pytest.raises(InvocationTimeoutError, match="did not finish within"):
        handle.get_result(timeout=0.05)
    by_id.RELEASE[key].set()
    assert handle.get_result(timeout=30) == key
    assert handle.status is S.SUCCESS


def test_failure_and_retries_seen_from_the_id(app: Pynenc) -> None:
    failed = by_id.fail_with("boom")
    with pytest.raises(ValueError, match="boom"):
        failed.get_result(timeout=30)
    with pytest.raises(ValueError, match="boom"):
        _ = app.invocation(failed.invocation_id).result
    retried = by_id.retried(uuid.uuid4().hex)
    assert retried.get_result(timeout=30) == 2
    handle = app.invocation(retried.invocation_id)
    assert handle.num_retries == 1
    assert S.RETRY in [e.status for e in handle.history]


def test_task_this_process_cannot_resolve(app: Pynenc) -> None:
    made = by_id.add(1, 2)
    made.get_result(timeout=30)
    client = _client(app)  # declares no module: resolving would import nothing
    handle = client.invocation(made.invocation_id)
    assert handle.status is S.SUCCESS and handle.result == 3
    assert handle.task_key == "tests.apps.by_id.add"
    assert handle.arguments.kwargs == {"x": 1, "y": 2}  # decoded without the task
    with pytest.raises(TaskNotFoundError, match=made.invocation_id) as raised:
        _ = handle.task
    assert "tests.apps.by_id" in str(raised.value) and "task_modules" in str(raised.value)
    assert client.tasks == {}


def test_task_resolved_as_a_runner_would(app: Pynenc) -> None:
    made = by_id.add(4, 4)
    made.get_result(timeout=30)
    client = _client(app, task_modules=["tests.apps.by_id"])
    handle = client.invocation(made.invocation_id)
    assert client.tasks == {}  # nothing resolved to build the handle
    task = handle.task
    assert task.task_id.key == "tests.apps.by_id.add" and task.app is client
    assert handle.arguments.kwargs == {"x": 4, "y": 4}


def test_unknown_id_names_the_app_and_backend(app: Pynenc, state_url: str) -> None:
    with pytest.raises(InvocationNotFoundError) as raised:
        app.invocation("no-such-invocation")
    message = str(raised.value)
    assert "no-such-invocation" in message and repr(app.app_id) in message
    assert state_url.split("://")[0] in message and "never registered" in message
    with pytest.raises(ValueError, match="non-empty string"):
        app.invocation("")
    with pytest.raises(TypeError, match="non-empty string"):
        app.invocation(42)  # type: ignore[arg-type]


def test_arguments_decoded_only_when_read(app: Pynenc) -> None:
    """A record whose arguments this process cannot decode still gives a handle and a
    status; reading ``.arguments`` says which invocation and argument failed."""
    record = InvocationRecord(uuid.uuid4().hex, "tests.apps.by_id.add", {"x": "{not json"})
    app.state_backend.register([record], 0.0)
    handle = app.invocation(record.invocation_id)
    assert handle.status is S.REGISTERED
    with pytest.raises(SerializationError, match=f"{record.invocation_id}.*'x'"):
        _ = handle.arguments


# -- from another process: a runner started through the CLI ---------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_result_by_id_of_a_process_runners_invocation(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        deployment = Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    else:
        redis: Server = request.getfixturevalue("redis_server")
        deployment = Deployment(kind, redis.db_url(), redis.db_url())
    app = deployment.configure()
    app.purge()
    runner = RunnerProcess(deployment, "ProcessRunner", log=tmp_path / "runner.log").start()
    try:
        made = deploy.add(20, 22)
        client = _client(app)
        handle = client.invocation(made.invocation_id)
        assert handle.get_result(timeout=60) == 42, runner.log_tail()
        assert [e.status for e in handle.history] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
        assert handle.history[1].runner_id is not None
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.purge()
        app.reset_components()
