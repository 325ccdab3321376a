"""A shop's Django-style Celery project (QA of beat): ``celery_project/shop`` is the project
as the team runs it on Celery 5.7; ``pynenc_project/shop`` is the same text with the import
lines switched to ``pynenc_celery_compat`` on migration day."""

from .celery import app as celery_app

__all__ = ("celery_app",)
