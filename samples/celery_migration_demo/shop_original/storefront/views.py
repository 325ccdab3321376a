"""The shop's views: they send the tasks and wait for them, and never change in the
migration (they import the apps' tasks, not Celery)."""

from billing import tasks as billing
from orders import tasks as orders

TIMEOUT = 30


def checkout(order_id: int, cart: dict[str, int]) -> dict:
    """Checkout: the orders canvas, then the charge it sent, looked up by its id."""
    confirmation = orders.checkout(order_id, cart).delay().get(timeout=TIMEOUT)
    payment = billing.charge.AsyncResult(confirmation["payment_id"]).get(timeout=TIMEOUT)
    return {"confirmation": confirmation, "payment": payment}


def reserve(order_id: int, sku: str, quantity: int) -> dict:
    """One reservation: ``delay().get()`` (the tee warehouse retries once)."""
    return orders.reserve_stock.delay(order_id, sku, quantity).get(timeout=TIMEOUT)


def invoices_now(batch: str) -> str:
    """The back office's "send invoices now" button: the periodic task, called by hand."""
    return billing.send_invoices.apply_async(kwargs={"batch": batch}).get(timeout=TIMEOUT)
