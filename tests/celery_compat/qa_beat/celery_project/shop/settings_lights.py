"""The shop's settings with the shop-window lights on at sunset (Celery's solar schedule:
it needs the ephem package)."""

from celery.schedules import solar

from shop.settings import *  # noqa: F403
from shop.settings import CELERY_BEAT_SCHEDULE as _SCHEDULE

CELERY_BEAT_SCHEDULE = {
    **_SCHEDULE,
    "shop-lights-on": {
        "task": "shop.celery.ping",
        "schedule": solar("sunset", 40.4168, -3.7038),
        "args": ("lights on",),
    },
}
