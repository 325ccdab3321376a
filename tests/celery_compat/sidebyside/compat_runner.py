"""The pynenc app of ``tasks_compat``, for a runner in its own process.

``pynenc --app tests.celery_compat.sidebyside.compat_runner:app runner start`` (the broker
and state backend come from ``PYNENC__BROKER_URL`` / ``PYNENC__STATE_BACKEND_URL``).
"""

from tests.celery_compat.sidebyside.tasks_compat import app as celery_app

app = celery_app.pynenc
