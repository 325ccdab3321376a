"""Django-style settings: Celery's options under the ``CELERY_`` namespace."""

import os
from datetime import timedelta

from celery.schedules import crontab, schedule
from kombu import Queue

CELERY_BROKER_URL = os.environ.get("SHOP_REDIS_URL", "redis://localhost:6379/0")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TIMEZONE = "Europe/Madrid"
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("reports"), Queue("maintenance"))
CELERY_TASK_ROUTES = {"shop.maintenance.tasks.*": {"queue": "maintenance"}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CELERY_BEAT_SCHEDULE = {
    # weekdays at 07:30: the daily digest to the ops list
    "weekday-digest": {
        "task": "shop.reports.tasks.send_digest",
        "schedule": crontab(minute=30, hour=7, day_of_week="mon-fri"),
        "args": ("daily",),
        "kwargs": {"recipients": ["ops@example.com"]},
        "options": {"queue": "reports", "expires": 600, "priority": 7},
    },
    # every quarter of an hour in opening hours
    "sync-inventory": {
        "task": "shop.inventory.tasks.sync_inventory",
        "schedule": crontab(minute="*/15", hour="8-20"),
        "kwargs": {"warehouse": "MAD-1", "full": False},
    },
    # weekend sale price checks
    "weekend-prices": {
        "task": "shop.inventory.tasks.check_prices",
        "schedule": crontab(minute=0, hour="9,12,18", day_of_week="sat,sun"),
        "args": ("sale",),
    },
    # the 1st of each month at 02:00 (a line copied from the old crontab)
    "monthly-invoices": {
        "task": "shop.billing.tasks.generate_invoices",
        "schedule": crontab.from_string("0 2 1 * *"),
        "kwargs": {"dry_run": False},
        "options": {"expires": timedelta(hours=6)},
    },
    # quarterly, first day of jan/apr/jul/oct at 06:00
    "quarterly-report": {
        "task": "shop.reports.tasks.send_digest",
        "schedule": crontab(minute=0, hour=6, day_of_month=1, month_of_year="*/3"),
        "args": ("quarterly",),
        "options": {"queue": "reports"},
    },
    # every 30 seconds: is the payment gateway up?
    "gateway-heartbeat": {
        "task": "shop.billing.tasks.gateway_heartbeat",
        "schedule": 30.0,
    },
    # every 5 minutes: abandoned carts (routed to "maintenance" by CELERY_TASK_ROUTES)
    "expire-carts": {
        "task": "shop.maintenance.tasks.expire_carts",
        "schedule": timedelta(minutes=5),
        "kwargs": {"older_than": 3600},
        "options": {"expires": timedelta(minutes=4)},
    },
    # exchange rates every 45 s
    "refresh-rates": {
        "task": "shop.billing.tasks.refresh_rates",
        "schedule": schedule(run_every=timedelta(seconds=45)),
        "args": (["EUR", "USD"],),
    },
    # hourly, on the hour (relative: rounded to the hour)
    "hourly-stats": {
        "task": "shop.reports.tasks.hourly_stats",
        "schedule": timedelta(hours=1),
        "relative": True,
    },
}
