"""Two ``app.workflows.resume`` calls on one paused workflow at once: one wins, and the
value its caller gave is the one ``wf.pause()`` returns; the other is told it lost.

The race is forced: each resume is held at its PAUSED -> REGISTERED step (the backend's
``set_status`` wrapped) until the other got there too, the first caller's step goes first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import WorkflowNotPausedError
from pynenc.records import StatusUpdate
from pynenc.testing import in_memory
from tests.apps import wf_pause
from tests.integration.deployments import wait_until

S = InvocationStatus
WAIT = 30.0


@pytest.fixture
def app() -> Iterator[Pynenc]:
    app = wf_pause.app
    app.conf.dev_mode_force_sync_tasks = False
    with in_memory(app), app.running_in_background(stop_timeout=WAIT):
        yield app


def test_two_resumes_at_once_the_winners_value_is_replayed(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    invocation = wf_pause.approve(1)
    backend: Any = app.state_backend
    wait_until(lambda: backend.get(invocation.invocation_id).status is S.PAUSED, WAIT, "the pause")
    first_there, second_there, first_done = (threading.Event() for _ in range(3))
    real = backend.set_status

    def held(update: StatusUpdate) -> bool:
        if update.entry.reason != "resumed":
            return bool(real(update))
        if threading.current_thread().name.startswith("second"):
            second_there.set()
            first_done.wait(WAIT)
            return bool(real(update))
        first_there.set()
        second_there.wait(WAIT)
        try:
            return bool(real(update))
        finally:
            first_done.set()

    monkeypatch.setattr(backend, "set_status", held)
    with (
        ThreadPoolExecutor(1, "first") as first_pool,
        ThreadPoolExecutor(1, "second") as second_pool,
    ):
        first = first_pool.submit(app.workflows.resume, invocation.invocation_id, "first")
        assert first_there.wait(WAIT)
        second = second_pool.submit(app.workflows.resume, invocation.invocation_id, "second")
        assert first.result(WAIT).invocation_id == invocation.invocation_id
        with pytest.raises(WorkflowNotPausedError):
            second.result(WAIT)
    # the first caller won: its value, not the loser's, is what the body got
    assert invocation.get_result(timeout=WAIT)["decision"] == "first"
