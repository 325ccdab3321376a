from pynenc_celery_compat import shared_task
from shop.audit import record


@shared_task
def sync_inventory(warehouse, full=True, **extra):
    record("sync_inventory", warehouse=warehouse, full=full, extra=extra)


@shared_task
def check_prices(campaign):
    record("check_prices", campaign=campaign)
