"""The starting point: a shop's jobs as plain functions, each called by something else:

- ``nightly_backup``: a crontab line, ``30 2 * * *``
- ``refresh_rates``: a loop in a process of its own, every second, and a script when the
  rates are known to be stale
- ``ship_order``: the payment webhook, for each paid order that is not a test order
- ``notify_customer``: the code after ``ship_order``, with the parcel it returned
- ``alert_finance``: an ``except PaymentDeclined`` around ``charge_card``
- ``send_daily_summary``: someone, by hand, once the backup is done and the warehouse closed

Compare with tasks.py, where each task says when it runs."""

#: Card payments above this amount are declined.
CARD_LIMIT = 500


class PaymentDeclined(Exception):
    """The card was declined."""


def nightly_backup() -> str:
    """crontab: ``30 2 * * * python -c 'import tasks; tasks.nightly_backup()'``"""
    return "backup done"


def refresh_rates() -> dict[str, float]:
    """A loop in a process of its own: ``while True: refresh_rates(); time.sleep(1)``"""
    return {"EUR/USD": 1.08, "EUR/GBP": 0.85}


def ship_order(order_id: str) -> str:
    """The payment webhook called it for each paid order that was not a test order."""
    return f"parcel-{order_id}"


def notify_customer(parcel: str) -> str:
    """Called with what ``ship_order`` returned."""
    return f"mail sent: {parcel} is on its way"


def charge_card(order_id: str, amount: int) -> str:
    if amount > CARD_LIMIT:
        raise PaymentDeclined(f"order {order_id}: {amount} is over the card limit")
    return f"charged {amount} for order {order_id}"


def alert_finance(message: str) -> str:
    """Called from an ``except PaymentDeclined`` around ``charge_card``."""
    return f"finance alerted: {message}"


def send_daily_summary() -> str:
    return "daily summary sent"
