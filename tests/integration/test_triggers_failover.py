"""The runner evaluating the triggers (the services lease holder) killed with SIGKILL while
events stream in, watched tasks end and the clock moves: another runner takes the lease
over and carries on, and every event, outcome and occasion still fires exactly once (three
runner processes, two kills).
"""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pynenc import InvocationStatus
from tests.integration import trigger_tasks as tasks
from tests.integration.trigger_helpers import KINDS, Triggers, header, running

ZONE = ZoneInfo(tasks.ZONE)
START = dt.datetime(2026, 5, 4, 8, 0, tzinfo=ZONE).timestamp()
STEP = 1800.0  #: 08:30, 09:00, 09:30: one occasion of half_hourly each
BURST = 4  #: events emitted before and after each kill


class Orders:
    """Large orders emitted as events: ``ship`` fires once for each."""

    def __init__(self, setup: Triggers) -> None:
        self.setup = setup
        self.events: dict[str, str] = {}  #: order id -> event id

        self.produced: dict[str, int] = {}  #: invocation id -> value (after_success fires)

    def emit(self, count: int) -> None:
        for _ in range(count):
            order = f"order-{len(self.events)}"
            payload = {"order_id": order, "amount": 500}
            self.events[order] = self.setup.app.trigger.emit_event("order.paid", payload)
            value = len(self.produced)
            self.produced[tasks.produce(value).invocation_id] = value


def _fired_once(setup: Triggers, task: str, count: int) -> list[dict[str, object]]:
    """``task`` fired ``count`` times, each one invocation. A run of a killed runner may
    run again elsewhere after a reroute (killed before its outcome was written): that is a
    runner's at-least-once execution, not a second firing."""
    setup.wait(lambda: len({r["id"] for r in setup.runs(task)}) >= count, f"{count} {task}")
    records = setup.invocations(task)
    assert len(records) == count, [r.invocation_id for r in records]
    runs = setup.runs(task)
    for invocation_id, times in collections.Counter(r["id"] for r in runs).items():
        if times > 1:
            history = setup.app.state_backend.history(invocation_id)
            assert InvocationStatus.REROUTED in [e.status for e in history], history
    return list({r["id"]: r for r in runs}.values())


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_lease_holder_hands_over_without_duplicates_or_losses(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request, count=3, clock=START) as setup:
        orders = Orders(setup)
        occasions = []
        for kills in range(1, 3):
            orders.emit(BURST)
            victim = setup.kill_evaluator()  # mid-stream: some of the burst may be unseen
            orders.emit(BURST)
            occasions.append(setup.advance(STEP))  # due while no runner holds the lease
            _fired_once(setup, "half_hourly", kills)  # by the next lease holder
            assert setup.evaluator() not in (None, victim)
        orders.emit(BURST)
        occasions.append(setup.advance(STEP))
        shipped = _fired_once(setup, "ship", len(orders.events))
        successes = _fired_once(setup, "after_success", len(orders.produced))
        half_hourly = _fired_once(setup, "half_hourly", 3)
        assert len(setup.runners) == 1

    assert {r["args"]["order_id"]: header(r)["event_id"] for r in shipped} == orders.events
    assert {r["args"]["source"]: r["args"]["value"] for r in successes} == orders.produced
    assert sorted(header(r)["occasion"] for r in half_hourly) == occasions
