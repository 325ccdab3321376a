"""Two attempts of one workflow run at once (QA of issue 16): a runner declared dead goes
on while the attempt that replaced it replays, each reading the journal ahead. Their
steps are made by hand here, in an interleaving a real pair can produce, on memory,
SQLite and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.broker.envelope import Envelope
from pynenc.call import Call
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.workflow.workflow_context import WorkflowContext
from tests.apps import qa_wf_races
from tests.integration.deployments import Deployment
from tests.servers import Server


@pytest.fixture(params=["memory", "sqlite", "redis"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pynenc]:
    kind = request.param
    if kind == "memory":
        url = "memory://"
    elif kind == "sqlite":
        url = f"sqlite:///{tmp_path}/s.db"
    else:
        redis: Server = request.getfixturevalue("redis_server")
        url = redis.db_url()
    app = Deployment(kind, "memory://", url).configure(qa_wf_races.app)
    app.state_backend.purge()
    yield app
    app.state_backend.purge()


def _attempt(app: Pynenc, invocation_id: str) -> WorkflowContext:
    """The ``wf`` of one attempt of ``keeper(1)`` (its own journal read-ahead)."""
    task = qa_wf_races.keeper
    arguments = task.args(1)
    envelope = Envelope(
        invocation_id, task.task_id.key, Call(task, arguments).serialized_arguments, "json"
    )
    invocation = DistributedInvocation(
        task, Arguments(arguments.kwargs), invocation_id, envelope=envelope
    )
    return WorkflowContext(invocation)


def test_a_stale_save_does_not_replace_a_newer_state(app: Pynenc) -> None:
    ahead, behind = _attempt(app, "w1"), _attempt(app, "w1")
    first = ahead.uuid()  # step 1
    assert behind.uuid() == first  # the attempt behind reads the journal ahead here
    ahead.save_state({"n": 1})  # step 2
    ahead.save_state({"n": 2})  # step 3
    behind.save_state({"n": 1})  # step 2 again: recorded meanwhile, but its state written
    again = _attempt(app, "w1")  # a later attempt (a retry, a resume) replays the run
    assert again.uuid() == first
    again.save_state({"n": 1})
    again.save_state({"n": 2})
    assert again.get_state() == {"n": 2}  # step 4: the state the run saved last
