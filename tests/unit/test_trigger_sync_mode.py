"""Dev sync mode: the trigger pass fires nothing (a firing would run the task inline, in
the scheduler's thread), says so once, and catches up by its policy once it is off."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from pynenc import Pynenc
from pynenc.testing import in_memory, sync_mode
from tests.apps import trigger_checks


@pytest.fixture
def app() -> Iterator[Pynenc]:
    app = trigger_checks.app
    app.trigger.clock = lambda: 1_000_000.0
    with in_memory(app):
        trigger_checks.SEEN.clear()
        app.trigger.lease_lost()  # what an earlier test's pass loaded is not ours
        yield app
    app.trigger.clock = time.time


def _advance(app: Pynenc, seconds: float) -> None:
    start = app.trigger.clock()
    app.trigger.clock = lambda: start + seconds


def test_sync_mode_fires_nothing_and_warns_once(
    app: Pynenc, caplog: pytest.LogCaptureFixture
) -> None:
    with sync_mode(app), caplog.at_level(logging.WARNING, "pynenc.trigger"):
        app.trigger.emit_event("order.paid", {"order": "A1"})
        for _ in range(3):
            _advance(app, 1.0)
            app.trigger.run_pass()
    assert trigger_checks.SEEN == []  # nothing ran inline
    assert not app.state_backend.find()  # nothing registered either
    warnings = [r for r in caplog.records if "dev_mode_force_sync_tasks" in r.getMessage()]
    assert len(warnings) == 1


def test_after_sync_mode_the_event_fires_once_on_a_runner_pass(app: Pynenc) -> None:
    with sync_mode(app):
        app.trigger.emit_event("order.paid", {"order": "A2"})
        app.trigger.run_pass()
    app.trigger.run_pass()
    fired = [s for s in app.trigger.status() if s.definition.task_key.endswith(".ship")]
    assert fired[0].fired == 1
    assert trigger_checks.SEEN == []  # registered, not run inline: no runner is consuming
