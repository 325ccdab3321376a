"""Tasks with triggers for the checks of when the trigger pass runs (in-process runners,
the embedded memory backend)."""

from __future__ import annotations

from pynenc import Pynenc, TriggerBuilder, TriggerContext

app = Pynenc(app_id="tests-trigger-checks", config_values={"timezone": "Europe/Madrid"})

#: what the triggered tasks ran with, in order
SEEN: list[str] = []


def order_of(context: TriggerContext) -> dict[str, str]:
    return {"order": context.payload["order"]}


@app.task(triggers=TriggerBuilder().on_event("order.paid").with_arguments(order_of))
def ship(order: str) -> str:
    SEEN.append(order)
    return order


@app.task(triggers=TriggerBuilder().on_interval(0.05))
def tick() -> None:
    SEEN.append("tick")


@app.task(triggers=TriggerBuilder().on_cron("50 2 * * *"))
def nightly() -> None:
    """At 02:50 in the app's timezone (a time in the hour repeated when DST ends)."""
