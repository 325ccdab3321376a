"""Tasks with triggers for the CLI tests (``pynenc triggers``, ``pynenc status``).

The trigger clock reads a fake time from the state backend (``set_clock``), in every
process that imports this module (the runners and the CLI), so cron occasions are reached
without waiting. The app's timezone is Europe/Madrid, which changes to summer time on
2025-03-30 at 02:00.
"""

from __future__ import annotations

import time
from typing import Any

from pynenc import Pynenc
from pynenc.trigger import TriggerBuilder, TriggerContext

app = Pynenc(app_id="tests-cli-triggers", config_values={"timezone": "Europe/Madrid"})

CLOCK = "test-clock"


def fake_now() -> float:
    """The time set by :func:`set_clock` (the real time until one is set)."""
    raw = app.state_backend.get_value(CLOCK, "now")
    return time.time() if raw is None else float(raw)


def set_clock(now: float) -> None:
    app.state_backend.put_value(CLOCK, "now", repr(now))


app.trigger.clock = fake_now


def is_large(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("amount", 0) >= 100


def order_of(context: TriggerContext) -> dict[str, Any]:
    return {"order_id": str(context.payload["order"])}


def no_arguments(context: TriggerContext) -> dict[str, Any]:
    raise RuntimeError(f"no arguments for event {context.event and context.event.code}")


@app.task(triggers=TriggerBuilder().on_cron("* * * * *"))
def every_minute() -> str:
    return "tick"


@app.task(triggers=TriggerBuilder().on_cron("0 3 * * *"))
def at_three() -> None:
    """Due at 03:00 on the wall clock (2025-03-30: the first hour of summer time)."""


@app.task(triggers=TriggerBuilder().on_interval(3600))
def hourly() -> None:
    pass


@app.task(
    triggers=TriggerBuilder()
    .on_event("order.paid", payload_filter=is_large)
    .with_arguments(order_of)
)
def ship(order_id: str) -> str:
    return f"shipped {order_id}"


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(triggers=TriggerBuilder().on_success(add).with_arguments({"note": "added"}))
def after_add(note: str) -> str:
    return note


@app.task(triggers=TriggerBuilder().on_event("broken").with_arguments(no_arguments))
def never_runs(order_id: str) -> None:
    pass


@app.task(triggers=TriggerBuilder().on_event("left").on_event("right").with_logic("and"))
def both_sides() -> str:
    return "both"
