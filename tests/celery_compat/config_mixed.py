"""A project still on a real ``celery.Celery`` app, with a module migrated to the compat
``shared_task`` (``config_tasks``). Runner processes read its broker and result backend
from Celery's environment variables (CELERY_BROKER_URL, CELERY_RESULT_BACKEND)."""

import celery

# not made current on import: the tests' modules are all imported before any runs, and
# other modules' shared tasks call through the current app (tests make it current)
app = celery.Celery(
    "config_mixed", include=["tests.celery_compat.config_tasks"], set_as_current=False
)
