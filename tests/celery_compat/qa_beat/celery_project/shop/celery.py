"""The project's Celery app, as Celery's Django guide writes it."""

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

from shop.audit import record

os.environ.setdefault("SHOP_SETTINGS_MODULE", "shop.settings")

app = Celery("shop", include=["shop.billing.tasks"])
app.config_from_object(os.environ["SHOP_SETTINGS_MODULE"], namespace="CELERY")
app.autodiscover_tasks(["shop.reports", "shop.inventory", "shop.maintenance"])


@app.on_after_configure.connect
def setup_periodic_tasks(sender, **kwargs):
    sender.add_periodic_task(
        crontab(minute=0, hour=4), cleanup_sessions.s(), name="nightly session cleanup"
    )
    sender.add_periodic_task(timedelta(minutes=10), ping.s("shop"), expires=60)


@app.task
def ping(text):
    record("ping", text=text)
    return text


@app.task(bind=True, ignore_result=True)
def cleanup_sessions(self):
    record("cleanup_sessions", task_name=self.name)


@app.task(bind=True)
def debug_task(self):
    print(f"Request: {self.request!r}")
