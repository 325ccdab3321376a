"""The ``run_dropped`` hook: a runner meets invocations it will not run (cancelled, expired)."""

from __future__ import annotations

import threading
import time
from typing import Any

from pynenc import Pynenc
from pynenc.records import InvocationStatus
from pynenc.runner.base import BaseRunner
from tests.apps import core


def test_a_runner_tells_which_received_invocations_it_drops(core_app: Pynenc) -> None:
    seen: dict[str, tuple[InvocationStatus, bool]] = {}
    both = threading.Event()

    def dropped(runner: BaseRunner, envelope: Any, status: InvocationStatus, stopped: bool) -> None:
        assert isinstance(runner, BaseRunner)
        seen[envelope.invocation_id] = (status, stopped)
        if len(seen) == 2:
            both.set()

    core_app.hooks.connect("run_dropped", dropped)
    try:
        cancelled = core.add(1, 2)
        cancelled.cancel(reason="test")
        expired = core.add.with_options(expires=0.05)(2, 3)
        ran = core.add(3, 4)
        time.sleep(0.1)  # past the expiry (a time, not an event, has to pass)
        with core_app.running_in_background():
            assert ran.result == 7
            assert both.wait(30), seen
        assert seen == {
            cancelled.invocation_id: (InvocationStatus.CANCELLED, False),
            expired.invocation_id: (InvocationStatus.EXPIRED, False),
        }
    finally:
        core_app.hooks.disconnect("run_dropped", dropped)


def test_no_handler_no_work(core_app: Pynenc) -> None:
    assert core_app.hooks.run_dropped == ()
    cancelled = core.add(1, 2)
    cancelled.cancel()
    with core_app.running_in_background():
        assert core.add(1, 1).result == 2
    assert cancelled.status is InvocationStatus.CANCELLED
