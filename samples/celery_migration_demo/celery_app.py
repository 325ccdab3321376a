"""The project's Celery app: a real ``celery.Celery``, unchanged by the migration.

A partial migration keeps this module as it is: the tasks of modules that import from
``pynenc_celery_compat`` follow this app's configuration (broker, result backend, eager
flags), and the modules not migrated yet keep running on Celery workers.

``memory://`` and ``cache+memory://`` keep the demo in one process with no server; set
``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND`` (e.g. ``redis://localhost:6379/0``) to run
it on a real broker.
"""

import os

from celery import Celery

app = Celery(
    "demo",
    broker=os.environ.get("CELERY_BROKER_URL", "memory://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "cache+memory://"),
    include=["tasks_original", "tasks"],
)
app.conf.update(
    broker_connection_retry_on_startup=True,
    # kombu's in-memory transport polls once a second by default: a demo would mostly wait
    broker_transport_options={"polling_interval": 0.01},
)
