"""``pynenc.testing.in_memory``: the distributed path in-process, the app's setup restored."""

from __future__ import annotations

from pathlib import Path

from pynenc import DistributedInvocation, InvocationStatus, Pynenc
from pynenc.testing import in_memory

app = Pynenc(app_id="tests-in-memory")


@app.task
def add(x: int, y: int) -> int:
    return x + y


def test_in_memory_runs_through_a_runner_and_restores_the_urls(tmp_path: Path) -> None:
    broker_url, state_url = f"sqlite:///{tmp_path}/broker.db", f"sqlite:///{tmp_path}/state.db"
    app.conf.update(broker_url=broker_url, state_backend_url=state_url, runner_cls="ProcessRunner")
    app.reset_components()
    left = add(40, 2)  # on the SQLite files, never run
    with in_memory(app), app.running_in_background():
        assert app.state_backend.url == "memory://" and app.broker.url == "memory://"
        assert type(app.runner).__name__ == "ThreadRunner"
        invocation = add(1, 2)
        assert isinstance(invocation, DistributedInvocation)
        assert invocation.result == 3
        assert app.state_backend.find() == [invocation.invocation_id]
    assert (app.conf.broker_url, app.conf.state_backend_url, app.conf.runner_cls) == (
        broker_url,
        state_url,
        "ProcessRunner",
    )
    assert app.state_backend.url == state_url
    assert app.state_backend.find() == [left.invocation_id]  # the block's records are gone
    assert left.status is InvocationStatus.REGISTERED
    with in_memory(app):
        assert app.state_backend.find() == []  # and none came back
    app.purge()
