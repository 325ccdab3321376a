"""The shop's settings, Django-style: Celery's options under the ``CELERY_`` namespace.

``memory://`` and ``cache+memory://`` keep the demo in one process with no server; set
``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND`` (e.g. ``redis://localhost:6379/0``) to
use a real broker.
"""

import os
from datetime import timedelta

from pynenc_celery_compat.schedules import crontab

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "cache+memory://")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# kombu's in-memory transport polls once a second by default: a demo would mostly wait
CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.01}
CELERY_TIMEZONE = "Europe/Madrid"

CELERY_TASK_DEFAULT_QUEUE = "shop"
CELERY_TASK_ROUTES = {"billing.tasks.*": {"queue": "billing"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = 120

CELERY_BEAT_SCHEDULE = {
    # every night at 02:00 (Madrid): the day's invoices
    "nightly-invoices": {
        "task": "billing.tasks.send_invoices",
        "schedule": crontab(minute=0, hour=2),
        "kwargs": {"batch": "nightly"},
        "options": {"expires": 3600},
    },
    # every 30 seconds: is the payment gateway up?
    "gateway-heartbeat": {
        "task": "billing.tasks.ping_gateway",
        "schedule": timedelta(seconds=30),
    },
}
