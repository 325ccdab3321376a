"""The same module with pynenc: an app, and each task saying when it runs (triggers).
The filters and argument providers are module-level functions: the runner evaluating the
triggers imports them by name."""

from typing import Any

from pynenc import Pynenc, TriggerBuilder, TriggerContext

app = Pynenc(app_id="triggers_demo", config_values={"timezone": "Europe/Madrid"})

#: Card payments above this amount are declined.
CARD_LIMIT = 500


class PaymentDeclined(Exception):
    """The card was declined."""


def worth_shipping(payload: dict[str, Any]) -> bool:
    """Event filter: test orders are paid but never shipped."""
    return not payload.get("test", False)


def order_of(context: TriggerContext) -> dict[str, Any]:
    """Arguments from the event's payload."""
    return {"order_id": context.payload["order_id"]}


def parcel_of(context: TriggerContext) -> dict[str, Any]:
    """Arguments from the result of the watched invocation."""
    return {"parcel": context.result}


def declined_message(context: TriggerContext) -> dict[str, Any]:
    """Arguments from the exception the watched invocation raised."""
    return {"message": str(context.exception)}


@app.task(triggers=TriggerBuilder().on_cron("30 2 * * *"))
def nightly_backup() -> str:
    """crontab: ``30 2 * * * python -c 'import tasks; tasks.nightly_backup()'``"""
    return "backup done"


@app.task(triggers=[TriggerBuilder().on_interval(1), TriggerBuilder().on_event("rates.stale")])
def refresh_rates() -> dict[str, float]:
    """A loop in a process of its own: ``while True: refresh_rates(); time.sleep(1)``"""
    return {"EUR/USD": 1.08, "EUR/GBP": 0.85}


@app.task(
    triggers=TriggerBuilder()
    .on_event("order.paid", payload_filter=worth_shipping)
    .with_arguments(order_of)
)
def ship_order(order_id: str) -> str:
    """The payment webhook called it for each paid order that was not a test order."""
    return f"parcel-{order_id}"


@app.task(triggers=TriggerBuilder().on_result(ship_order).with_arguments(parcel_of))
def notify_customer(parcel: str) -> str:
    """Called with what ``ship_order`` returned."""
    return f"mail sent: {parcel} is on its way"


@app.task
def charge_card(order_id: str, amount: int) -> str:
    if amount > CARD_LIMIT:
        raise PaymentDeclined(f"order {order_id}: {amount} is over the card limit")
    return f"charged {amount} for order {order_id}"


@app.task(
    triggers=TriggerBuilder()
    .on_exception(charge_card, [PaymentDeclined])
    .with_arguments(declined_message)
)
def alert_finance(message: str) -> str:
    """Called from an ``except PaymentDeclined`` around ``charge_card``."""
    return f"finance alerted: {message}"


@app.task(
    triggers=TriggerBuilder()
    .on_success(nightly_backup)
    .on_event("warehouse.closed")
    .with_logic("and")
)
def send_daily_summary() -> str:
    return "daily summary sent"
