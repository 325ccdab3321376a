"""The trigger pass in this process (memory backend, no runner, an injected clock): what a
lease holder that dies or fails mid-pass leaves to the next pass, and the next due time.

A pass that does not finish (the process killed, the backend failing) must leave every
occurrence it did not fire to the next pass: nothing is lost, and what it did fire is not
fired again (the derived invocation id)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pynenc import Pynenc
from pynenc.exceptions import StateBackendError, StateBackendUnavailableError
from pynenc.trigger import TriggerBuilder, TriggerContext
from pynenc.trigger import firing as firing_module
from pynenc.trigger.evaluation import MAX_REFUSALS, TriggerEvaluator
from tests.unit.trigger_fixtures import on_memory

app = Pynenc(app_id="tests-trigger-pass", config_values={"timezone": "Europe/Madrid"})
ZONE = ZoneInfo("Europe/Madrid")
START = dt.datetime(2026, 5, 4, 8, 0, tzinfo=ZONE).timestamp()
NOW = [START]


def payload_args(context: TriggerContext) -> dict[str, Any]:
    return {"payload": context.payload}


@app.task(triggers=TriggerBuilder().on_event("go").with_arguments(payload_args))
def went(payload: Any) -> Any:
    return payload


def not_a_dict(context: TriggerContext) -> Any:
    return ["not", "a", "dict"]


def unfitting(context: TriggerContext) -> dict[str, Any]:
    return {"nope": context.payload}


@app.task(
    triggers=[
        TriggerBuilder().on_event("listed").with_arguments(not_a_dict),
        TriggerBuilder().on_event("unfit").with_arguments(unfitting),
        TriggerBuilder().on_event("fine").with_arguments(payload_args),
    ]
)
def strict(payload: Any) -> Any:
    return payload


@app.task(triggers=TriggerBuilder().on_cron("*/30 * * * *"))
def half_hourly() -> None:
    return None


class Crash(BaseException):
    """The process dies here (a SIGKILL does not run ``except Exception`` handlers)."""


@pytest.fixture(autouse=True)
def memory_app() -> Iterator[Pynenc]:
    NOW[0] = START
    with on_memory(app, lambda: NOW[0]) as fresh:
        yield fresh


def _payloads() -> list[Any]:
    ids = app.state_backend.find(task_id=went.task_id.key)
    records = [r for r in app.state_backend.get_many(ids) if r is not None]
    return sorted(app.serializer.loads(r.arguments["payload"]) for r in records)


def _failing_fire(monkeypatch: pytest.MonkeyPatch, error: BaseException, after: int) -> None:
    """``fire`` works ``after`` times, then raises ``error`` once."""
    real = firing_module.fire
    calls = [0]

    def fire(*args: Any) -> tuple[str, bool]:
        calls[0] += 1
        if calls[0] == after + 1:
            raise error
        return real(*args)

    monkeypatch.setattr(firing_module, "fire", fire)


def test_a_lease_holder_killed_mid_pass_leaves_the_unfired_events_to_the_next_holder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for number in range(5):
        app.trigger.emit_event("go", number)
    _failing_fire(monkeypatch, Crash(), after=2)
    with pytest.raises(Crash):
        app.trigger.run_pass()
    assert _payloads() == [0, 1]
    # another runner takes the lease over: it knows only what the first one stored
    next_holder = TriggerEvaluator(app)
    next_holder.run_pass(NOW[0])
    assert _payloads() == [0, 1, 2, 3, 4]
    next_holder.run_pass(NOW[0])
    assert _payloads() == [0, 1, 2, 3, 4]


def test_a_backend_failing_while_firing_fails_the_pass_and_the_next_pass_fires_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.trigger.run_pass()  # the cron trigger is seen: its occasions count from now
    for number in range(3):
        app.trigger.emit_event("go", number)
    NOW[0] += 1800  # a cron occasion too
    _failing_fire(monkeypatch, StateBackendUnavailableError("backend down"), after=1)
    with pytest.raises(StateBackendUnavailableError):
        app.trigger.run_pass()
    app.trigger.run_pass()  # the same holder, the backend back
    assert _payloads() == [0, 1, 2]
    status = {s.definition.task_key: s for s in app.trigger.status()}
    # the firing registered by the failed pass is found, not registered again; its count
    # was lost with that pass's state, so this pass counts it: three firings, three counted
    assert status[went.task_id.key].fired == 3 and status[went.task_id.key].last_error is None
    assert len(app.state_backend.find(task_id=half_hourly.task_id.key)) == 1


def test_a_firing_the_backend_always_refuses_is_given_up_and_the_others_fire(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = firing_module.fire

    def fire(app_: Pynenc, definition: Any, occurrences: Any, *args: Any) -> tuple[str, bool]:
        if occurrences[0].get("event", {}).get("payload") == 1:  # e.g. a value too large
            raise StateBackendError("value too large for the backend")
        return real(app_, definition, occurrences, *args)

    monkeypatch.setattr(firing_module, "fire", fire)
    for number in range(3):
        app.trigger.emit_event("go", number)
    for _ in range(MAX_REFUSALS - 1):  # refused: the pass fails and is repeated
        with pytest.raises(StateBackendError):
            app.trigger.run_pass()
    app.trigger.run_pass()  # refused once more: given up, the others fire
    assert _payloads() == [0, 2]
    assert f"gave up a firing refused {MAX_REFUSALS} times in a row" in caplog.text
    app.trigger.run_pass()
    assert _payloads() == [0, 2]  # given up for good


def test_a_provider_failing_fails_that_firing_only_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for number in range(3):
        app.trigger.emit_event("go", number)
    _failing_fire(monkeypatch, ValueError("bad payload"), after=1)
    app.trigger.run_pass()
    app.trigger.run_pass()
    assert _payloads() == [0, 2]
    status = {s.definition.task_key: s for s in app.trigger.status()}[went.task_id.key]
    assert status.fired == 2 and status.last_error is None  # the last firing worked


def test_a_provider_building_wrong_arguments_is_shown_in_the_status() -> None:
    for code in ("listed", "unfit", "fine"):
        app.trigger.emit_event(code, code)
    app.trigger.run_pass()
    errors = {
        s.definition.describe(): s.last_error
        for s in app.trigger.status()
        if s.definition.task_key == strict.task_id.key
    }
    assert "must return a dict" in str(errors["event 'listed'"])
    assert f"{__name__}:not_a_dict" in str(errors["event 'listed'"])
    assert "['nope'] that do not fit the parameters" in str(errors["event 'unfit'"])
    assert f"{__name__}:unfitting" in str(errors["event 'unfit'"])
    assert errors["event 'fine'"] is None
    assert len(app.state_backend.find(task_id=strict.task_id.key)) == 1


def test_events_dropped_by_the_retention_before_a_pass_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.trigger.emit_event("go", -1)
    app.trigger.run_pass()  # the cursor is stored: a gap after it is a loss
    app.conf.trigger.event_retention = 3
    try:
        for number in range(5):
            app.trigger.emit_event("go", number)
        with caplog.at_level("WARNING", logger="pynenc.trigger"):
            app.trigger.run_pass()
            app.trigger.emit_event("go", 5)
            app.trigger.run_pass()  # read on from the cursor: nothing dropped since
    finally:
        app.conf.trigger.event_retention = 10_000
    assert _payloads() == [-1, 2, 3, 4, 5]
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].startswith("2 events were dropped")
    assert "trigger.event_retention = 3" in dropped[0]
