from celery import shared_task

from shop.audit import record


@shared_task
def expire_carts(older_than=86400):
    record("expire_carts", older_than=older_than)
