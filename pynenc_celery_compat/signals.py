"""Celery's signal objects (``celery.signals``), re-exported: the same objects.

Handlers connected through ``celery.signals`` or through this module are the same handlers;
this layer sends the signals where Celery does, with Celery's keyword names (see
``docs/celery.md``).
"""

from __future__ import annotations

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    after_task_publish,
    before_task_publish,
    celeryd_after_setup,
    celeryd_init,
    import_modules,
    setup_logging,
    task_failure,
    task_internal_error,
    task_postrun,
    task_prerun,
    task_received,
    task_rejected,
    task_retry,
    task_revoked,
    task_success,
    task_unknown,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

__all__ = [
    "after_setup_logger",
    "after_setup_task_logger",
    "after_task_publish",
    "before_task_publish",
    "celeryd_after_setup",
    "celeryd_init",
    "import_modules",
    "setup_logging",
    "task_failure",
    "task_internal_error",
    "task_postrun",
    "task_prerun",
    "task_received",
    "task_rejected",
    "task_retry",
    "task_revoked",
    "task_success",
    "task_unknown",
    "worker_init",
    "worker_process_init",
    "worker_process_shutdown",
    "worker_ready",
    "worker_shutdown",
    "worker_shutting_down",
]
