from celery import shared_task

from shop.audit import record


@shared_task(bind=True)
def send_digest(self, period, recipients=None):
    record("send_digest", period=period, recipients=recipients)
    return period


@shared_task
def hourly_stats():
    record("hourly_stats")
