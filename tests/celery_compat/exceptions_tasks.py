"""Compat tasks that fail with a user's own exceptions."""

from typing import Any

from pynenc_celery_compat import Celery

app = Celery("exceptions", broker="memory://", backend="cache+memory://", set_as_current=False)


class PaymentDeclined(Exception):
    """A user's exception whose constructor takes keywords only."""

    def __init__(self, *, code: str, amount: int) -> None:
        super().__init__(f"payment of {amount} declined: {code}")
        self.code = code
        self.amount = amount


class StockError(LookupError):
    """A user's exception with positional arguments, a subclass of a builtin."""

    def __init__(self, sku: str, wanted: int) -> None:
        super().__init__(sku, wanted)
        self.sku = sku
        self.wanted = wanted


@app.task
def charge(amount: int) -> None:
    raise PaymentDeclined(code="insufficient_funds", amount=amount)


@app.task
def reserve(sku: str, wanted: int) -> None:
    raise StockError(sku, wanted)


@app.task
def slow(seconds: float) -> Any:
    import time

    time.sleep(seconds)
