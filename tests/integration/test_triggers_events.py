"""Event triggers with two runner processes: each event emitted by the test process fires
its triggers once, with its payload, when the payload passes the trigger's filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.trigger_helpers import KINDS, header, prepare, running, started

AMOUNTS = [50, 150, 200, 99, 100, 10, 1000]  #: ship's filter passes amounts >= 100


@pytest.mark.parametrize("kind", KINDS)
def test_each_event_fires_once_with_its_payload_through_the_filter(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request) as setup:
        emit = setup.app.trigger.emit_event
        ids = {}
        for number, amount in enumerate(AMOUNTS):
            order = f"order-{number}"
            ids[order] = emit("order.paid", {"order_id": order, "amount": amount})
        pings = {emit("ping"), emit("ping", [1, 2])}
        emit("order.refunded", {"order_id": "order-1", "amount": 150})  # no trigger
        pongs = setup.check_once("pong", 2)
        shipped = setup.check_once("ship", 4)

    large = {f"order-{n}": a for n, a in enumerate(AMOUNTS) if a >= 100}
    # the provider built the arguments from each payload
    assert {r["args"]["order_id"]: r["args"]["amount"] for r in shipped} == large
    # the header names the event that fired each run
    for run in shipped:
        assert header(run)["kind"] == "event" and header(run)["event_code"] == "order.paid"
        assert header(run)["event_id"] == ids[run["args"]["order_id"]]
    assert {header(r)["event_id"] for r in pongs} == pings
    assert [r["args"] for r in pongs] == [{"word": "pong"}] * 2


@pytest.mark.parametrize("kind", KINDS)
def test_events_emitted_before_the_runners_start_and_while_they_run_fire_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    setup = prepare(kind, tmp_path, request)
    early = setup.app.trigger.emit_event("ping")  # stored: fired once a runner is up
    with started(setup):
        setup.app.trigger.emit_event("ping")
        pongs = setup.check_once("pong", 2)
    assert early in {header(r)["event_id"] for r in pongs}
