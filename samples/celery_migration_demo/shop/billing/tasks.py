"""The billing app's tasks: charge a card, and the periodic ones the beat schedule runs
(``CELERY_BEAT_SCHEDULE`` in ``proj/settings.py``)."""

from pynenc_celery_compat import current_task, shared_task

#: what billing did (a table in a real project)
LEDGER: list[dict] = []


class GatewayTimeout(ConnectionError):
    """The payment gateway did not answer in time."""


@shared_task(autoretry_for=(GatewayTimeout,), retry_kwargs={"max_retries": 3, "countdown": 0.1})
def charge(order_id: int, cents: int) -> dict:
    attempt = current_task.request.retries + 1
    if attempt == 1:  # the gateway drops the first connection of each charge
        raise GatewayTimeout(f"no answer charging order {order_id}")
    LEDGER.append({"charged": order_id, "cents": cents})
    return {"order_id": order_id, "cents": cents, "status": "captured", "attempts": attempt}


@shared_task
def send_invoices(batch: str = "nightly") -> str:
    LEDGER.append({"invoices": batch})
    return f"{batch} invoices sent"


@shared_task
def ping_gateway() -> str:
    return "gateway up"
