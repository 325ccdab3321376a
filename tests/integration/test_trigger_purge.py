"""A purge while a runner holds the services lease: the trigger pass it keeps running
(its cursors in memory) still sees the events emitted after the purge.

The pass is run here directly (``app.trigger.run_pass()``, what the lease holder runs
after each scheduler pass), on every state backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pynenc import Pynenc
from tests.apps import cli_triggers
from tests.contract.test_state_backend_contract import BACKENDS

SHIP = "tests.apps.cli_triggers.ship"


def _shipped(app: Pynenc) -> int:
    return len(app.state_backend.recent(100, task_id=SHIP))


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_events_after_a_purge_still_fire(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    app = cli_triggers.app
    app.reset_components()
    app.conf.state_backend_url = BACKENDS[kind](request)
    app.conf.broker_url = "memory://" if kind == "memory" else f"sqlite:///{tmp_path}/b.db"
    app.purge()
    try:
        for order in range(3):
            app.trigger.emit_event("order.paid", {"order": order, "amount": 500})
        app.trigger.run_pass()
        assert _shipped(app) == 3

        app.purge()  # the pass keeps its cursors: the log must not number from 1 again
        app.trigger.emit_event("order.paid", {"order": 99, "amount": 500})
        app.trigger.run_pass()
        assert _shipped(app) == 1
    finally:
        app.trigger.lease_lost()
        app.purge()
        app.reset_components()
