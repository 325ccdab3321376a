"""QA of beat on pynenc_celery_compat: a shop's Celery project switched on migration day."""
