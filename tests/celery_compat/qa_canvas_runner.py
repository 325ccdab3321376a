"""The pynenc app of ``qa_canvas_compat``, for a runner in its own process.

``pynenc --app tests.celery_compat.qa_canvas_runner:app runner start`` (the broker and
state backend from ``PYNENC__BROKER_URL`` / ``PYNENC__STATE_BACKEND_URL``; the project's
own notes from ``CELERY_BROKER_URL``).
"""

from tests.celery_compat.qa_canvas_compat import app as celery_app

app = celery_app.pynenc
