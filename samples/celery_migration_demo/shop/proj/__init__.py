"""The shop's project package, laid out as Celery's Django guide lays it out: the app in
``proj/celery.py``, loaded when the project is, so that ``shared_task`` uses it."""

from .celery import app as celery_app

__all__ = ("celery_app",)
