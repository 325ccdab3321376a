from pynenc_celery_compat import shared_task
from shop.audit import record


@shared_task
def generate_invoices(dry_run=True):
    record("generate_invoices", dry_run=dry_run)
    return 0


@shared_task(bind=True, max_retries=3)
def gateway_heartbeat(self):
    record("gateway_heartbeat", retries=self.request.retries)
    return "ok"


@shared_task
def refresh_rates(currencies, base="EUR"):
    record("refresh_rates", currencies=currencies, base=base)
    return len(currencies)
