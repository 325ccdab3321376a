"""The project's Celery app: a real ``celery.Celery``, kept through the whole migration.

As Celery's Django guide writes it, without Django: the settings are a plain module read
with the ``CELERY_`` namespace (a Django project passes ``"django.conf:settings"``), and the
apps' ``tasks`` modules are found by ``autodiscover_tasks`` from an explicit list (a
Django project passes none: ``INSTALLED_APPS``).
"""

from celery import Celery

app = Celery("proj")
app.config_from_object("proj.settings", namespace="CELERY")
app.autodiscover_tasks(["orders", "billing"])
