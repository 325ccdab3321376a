"""The orders app's tasks: reserve each line's stock, price it, confirm the order.

:func:`checkout` builds what a checkout sends: per line a chain (reserve, then price), the
lines in a group, then the confirmation with every priced line (``group | task``: a chord).
The confirmation charges the card through the billing app's task.
"""

from celery import group, shared_task

#: unit prices in cents (the catalogue table in a real project)
PRICES = {"mug": 1250, "tee": 1900, "cap": 990}


class WarehouseBusy(Exception):
    """The warehouse system asked us to come back later."""


@shared_task(bind=True, max_retries=3, default_retry_delay=5)
def reserve_stock(self, order_id: int, sku: str, quantity: int) -> dict:
    if sku == "tee" and self.request.retries == 0:  # the tee warehouse is busy at first
        raise self.retry(exc=WarehouseBusy(f"no answer for {sku}"), countdown=0.1)
    return {"sku": sku, "quantity": quantity, "attempts": self.request.retries + 1}


@shared_task
def price_line(reservation: dict) -> dict:
    return {**reservation, "cents": PRICES[reservation["sku"]] * reservation["quantity"]}


@shared_task
def confirm_order(lines: list[dict], order_id: int) -> dict:
    from billing.tasks import charge  # the other app's task, imported where it is used

    total = sum(line["cents"] for line in lines)
    payment = charge.delay(order_id, total)
    return {"order_id": order_id, "lines": lines, "total_cents": total, "payment_id": payment.id}


def checkout(order_id: int, cart: dict[str, int]):
    """The checkout canvas of ``cart`` (sku -> quantity); ``.delay()`` sends it."""
    lines = group(reserve_stock.s(order_id, sku, n) | price_line.s() for sku, n in cart.items())
    return lines | confirm_order.s(order_id)
