"""A MultiThreadRunner sizes its pool from the broker's ``queue_depth`` (no kombu of its own).

The supervisor is built but not run: these tests look at its sizing decisions against a
real broker (a SQLite file; Redis for an unreachable one).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from pynenc import Pynenc
from pynenc.broker import Envelope
from pynenc.runner.supervisor import MultiThreadRunner
from tests.servers import free_port


def _app(broker_url: str, tmp_path: Path) -> Pynenc:
    return Pynenc(
        {"broker_url": broker_url, "state_backend_url": f"sqlite:///{tmp_path}/state.db"},
        app_id=f"depth-{uuid.uuid4().hex[:8]}",
    )


def test_pool_grows_with_the_backlog_of_its_queues(tmp_path: Path) -> None:
    app = _app(f"sqlite:///{tmp_path}/broker.db", tmp_path)
    runner = MultiThreadRunner(app, processes=3, threads=2, queues=["work", "other"])
    try:
        assert runner.queue_depth() == 0
        assert runner._resize(1) == 1  # nothing waits: stays at one process
        app.broker.publish([Envelope(f"inv-{i}", "mod.job", {}, "json", "work") for i in range(5)])
        assert runner.queue_depth() == 5
        assert runner._resize(1) == 2  # a backlog of at least `threads`: one more
    finally:
        app.broker.purge(["work"])
        app.broker.close()
        app.state_backend.close()


def test_unreachable_broker_keeps_the_pool_as_it_is(tmp_path: Path) -> None:
    app = _app(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    runner = MultiThreadRunner(app, processes=3, threads=2)
    try:
        assert runner.queue_depth() is None
        assert runner._resize(2) == 2
    finally:
        app.broker.close()
        app.state_backend.close()
