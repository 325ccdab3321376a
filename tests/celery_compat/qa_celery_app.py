"""A project's real Celery app for ``pynenc-celery -A tests.celery_compat.qa_celery_app
worker``: broker and results from ``QA_CELERY_URL``, the QA tasks included."""

import os

from celery import Celery

URL = os.environ.get("QA_CELERY_URL", "memory://")
app = Celery("qa_celery", broker=URL, backend=URL, include=["tests.celery_compat.qa_celery_tasks"])
