"""A project's real Celery app for ``pynenc-celery -A tests.celery_compat.qa_celery_app
worker``: broker and results from ``QA_CELERY_URL``, the QA tasks included."""

import os

from celery import Celery

URL = os.environ.get("QA_CELERY_URL", "memory://")
app = Celery("qa_celery", broker=URL, backend=URL, include=["tests.celery_compat.qa_celery_tasks"])


@app.task(name="qa_celery.still_on_celery")
def still_on_celery() -> str:
    """A task of a module not migrated yet: Celery's workers run it, pynenc's do not."""
    return "celery"
