"""A second runner in the same process (a test suite's next test, a script's next block)
evaluates triggers from what the state backend holds, not from what the first one saw:
after a purge, the event log numbers its events from 1 again."""

from __future__ import annotations

from pynenc.testing import in_memory
from tests.apps import trigger_checks
from tests.integration.deployments import wait_until


def _shipped() -> list[str]:
    return [seen for seen in trigger_checks.SEEN if seen != "tick"]


def _block(name: str) -> list[str]:
    """A purged in-memory app, a runner, three events: the orders they shipped."""
    app = trigger_checks.app
    orders = [f"{name}-{n}" for n in range(3)]
    with in_memory(app), app.running_in_background(stop_timeout=30):
        for order in orders:
            app.trigger.emit_event("order.paid", {"order": order})
        wait_until(lambda: set(orders) <= set(_shipped()), 30, f"the {name} block's events")
    return orders


def test_each_runner_block_fires_its_own_events() -> None:
    trigger_checks.SEEN.clear()
    expected = _block("first") + _block("second")
    assert sorted(_shipped()) == sorted(expected)  # each event once
