"""Test tooling mirroring ``celery.contrib``: ``testing.worker.start_worker`` and the
``pytest`` plugin."""
