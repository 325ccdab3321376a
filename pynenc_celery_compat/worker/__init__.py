"""Celery's worker on pynenc: ``pynenc-celery worker`` and the test worker build on
:class:`Worker` (see ``docs/celery.md``, "Worker command")."""

from pynenc_celery_compat.worker.controller import Worker
from pynenc_celery_compat.worker.pools import RUNNER_OF_POOL, UnsupportedPoolError

__all__ = ["RUNNER_OF_POOL", "UnsupportedPoolError", "Worker"]
