"""A second runner in the same process (a test suite's next test, a script's next block)
evaluates triggers from what the state backend holds, not from what the first one loaded:
after a purge, a trigger starts afresh (its count, cursors and "and" progress are gone)."""

from __future__ import annotations

from pynenc.testing import in_memory
from tests.apps import trigger_checks
from tests.integration.deployments import wait_until


def _shipped() -> list[str]:
    return [seen for seen in trigger_checks.SEEN if seen not in ("tick", "nightly")]


def _block(name: str) -> int:
    """A purged in-memory app, a runner, three events: how often the trigger fired."""
    app = trigger_checks.app
    orders = [f"{name}-{n}" for n in range(3)]
    with in_memory(app), app.running_in_background(stop_timeout=30):
        for order in orders:
            app.trigger.emit_event("order.paid", {"order": order})
        wait_until(lambda: set(orders) <= set(_shipped()), 30, f"the {name} block's events")
        wait_until(lambda: _fired() >= 3, 30, "the pass to store its count")  # after firing
        return _fired()


def _fired() -> int:
    statuses = trigger_checks.app.trigger.status()
    return next(s.fired for s in statuses if s.definition.task_key.endswith(".ship"))


def test_each_runner_block_starts_from_the_stored_state() -> None:
    trigger_checks.SEEN.clear()
    assert _block("first") == 3
    assert _block("second") == 3  # not 6: the first runner's loaded state is not written back
    assert sorted(_shipped()) == sorted(f"{b}-{n}" for b in ("first", "second") for n in range(3))
